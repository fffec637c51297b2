{#
  Seeds on Spark. dbt-spark's session connection pastes each seed value into the insert
  statement between quotes without escaping it, so a value with a quote ("Women's Fashion")
  breaks the statement and an empty cell arrives as the text 'None'. This override writes every
  value as an escaped literal instead (null for an empty cell), which every Spark connection
  method accepts; the rest of dbt-spark's seed materialization is unchanged.
#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {% set column_types = model['config'].get('column_types', {}) %}
    {% set casts = [] %}
    {% for column_name in agate_table.column_names %}
        {% do casts.append(column_types.get(
            column_name, adapter.convert_type(agate_table, loop.index0)
        )) %}
    {% endfor %}
    {% set statements = [] %}
    {% for chunk in agate_table.rows | batch(get_batch_size()) %}
        {% set values = [] %}
        {% for row in chunk %}
            {% set cells = [] %}
            {% for value in row %}
                {% if value is none %}
                    {% set literal = 'null' %}
                {% elif value is boolean %}
                    {% set literal = 'true' if value else 'false' %}
                {% elif value is number %}
                    {% set literal = value | string %}
                {% else %}
                    {% set literal = pcdp_quote_text(value) %}
                {% endif %}
                {% do cells.append('cast(' ~ literal ~ ' as ' ~ casts[loop.index0] ~ ')') %}
            {% endfor %}
            {% do values.append('(' ~ cells | join(', ') ~ ')') %}
        {% endfor %}
        {% set sql = 'insert into ' ~ this.render() ~ ' values\n' ~ values | join(',\n') %}
        {% do adapter.add_query(sql, abridge_sql_log=True) %}
        {% do statements.append(sql) %}
    {% endfor %}
    {# The SQL dbt renders as the seed's compiled code: the first batch. #}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}
