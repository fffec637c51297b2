{#
  Audiences, accounts and signals (contract sections 4-5).

  pcdp_create_audience_views(results): the on-run-end hook. When this invocation built the
  model audience_definitions, it publishes the audience views (pcdp_publish_audience_views).
#}
{% macro pcdp_create_audience_views(results) %}
    {% if not execute or flags.WHICH not in ('run', 'build') %}
        {{ return('') }}
    {% endif %}
    {% for result in results
        if result.node.name == 'audience_definitions' and result.status == 'success' %}
        {% do pcdp_publish_audience_views() %}
    {% endfor %}
    {{ return('') }}
{% endmacro %}


{#
  pcdp_publish_audience_views(): one view audience_<name> per audience of the table
  audience_definitions whose status is 'ok', selecting its members from customer_profile (or
  account_profile for target: account) with the filter SQL that pcdp.audience compiled (never
  the filter text). It drops the views of audiences that are gone or were refused, so a view
  never outlives its definition. Also a run-operation (`dbt run-operation
  pcdp_publish_audience_views`), for a warehouse where audience_definitions is built apart from
  the dbt invocation.
#}
{% macro pcdp_publish_audience_views() %}
    {% set relations = {} %}
    {% set model_names = [] %}
    {% for node in graph.nodes.values() if node.resource_type in ('model', 'seed', 'snapshot') %}
        {% do model_names.append(node.alias or node.name) %}
        {% if node.package_name == project_name and node.name in (
            'customer_profile', 'account_profile', 'audience_definitions'
        ) %}
            {% do relations.update({node.name: api.Relation.create(
                database=node.database, schema=node.schema, identifier=node.alias
            )}) %}
        {% endif %}
    {% endfor %}
    {% set definitions = relations['audience_definitions'] %}
    {% if adapter.get_relation(
        database=definitions.database,
        schema=definitions.schema,
        identifier=definitions.identifier,
    ) is none %}
        {% do exceptions.raise_compiler_error(
            definitions ~ ' does not exist: build audience_definitions (dbt build) first'
        ) %}
    {% endif %}
    {% set rows = run_query(
        'select view_name, source_relation, filter_sql from ' ~ definitions
        ~ " where status = 'ok' order by view_name"
    ).rows %}
    {% set kept = [] %}
    {% for view_name, source_relation, filter_sql in rows %}
        {% if not modules.re.fullmatch('audience_[a-z][a-z0-9_]*', view_name)
            or source_relation not in ('customer_profile', 'account_profile') %}
            {% do exceptions.raise_compiler_error(
                'audience_definitions has an invalid row for ' ~ view_name
            ) %}
        {% endif %}
        {% do run_query(
            'create or replace view ' ~ definitions.incorporate(
                path={'identifier': view_name}, type='view'
            ) ~ ' as select * from ' ~ relations[source_relation] ~ ' where ' ~ filter_sql
        ) %}
        {% do kept.append(view_name) %}
    {% endfor %}
    {% for view_name in pcdp_view_names(definitions)
        if view_name.startswith('audience_')
        and view_name not in kept and view_name not in model_names %}
        {% do run_query('drop view if exists ' ~ definitions.incorporate(
            path={'identifier': view_name}, type='view'
        )) %}
    {% endfor %}
    {% do log('audiences: ' ~ kept | length ~ ' view(s) created', info=true) %}
{% endmacro %}


{# The names of the views in the schema of `relation`. #}
{% macro pcdp_view_names(relation) %}
    {{ return(adapter.dispatch('pcdp_view_names', 'pcdp')(relation)) }}
{% endmacro %}

{% macro default__pcdp_view_names(relation) %}
    {{ return(run_query(
        "select table_name from information_schema.tables where table_type = 'VIEW'"
        ~ ' and table_catalog = ' ~ pcdp_quote_text(relation.database)
        ~ ' and table_schema = ' ~ pcdp_quote_text(relation.schema)
    ).columns[0].values() | list) }}
{% endmacro %}

{% macro spark__pcdp_view_names(relation) %}
    {% set views = [] %}
    {% for row in run_query('show views in ' ~ relation.schema) if not row['isTemporary'] %}
        {% do views.append(row['viewName']) %}
    {% endfor %}
    {{ return(views) }}
{% endmacro %}


{# A DuckDB column type that holds numbers. #}
{% macro pcdp_is_numeric_type(data_type) %}
    {{ return(modules.re.match(
        '(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|DOUBLE|FLOAT|REAL|DECIMAL|NUMERIC)\\b',
        data_type | upper
    ) is not none) }}
{% endmacro %}


{#
  account_profile's rollups of customer_profile columns, as a list of {name, expression}
  over the alias `profile`: fixed feature rollups (monetary_sum, ...), then per predictive
  attribute: <a>_sum for numeric pcLTV attributes, <a>_max and <a>_mean for other numeric ones,
  <a>_members (members for whom it is true) for booleans. Mirrors
  pcdp.audience.profile_schema.account_schema; read from the warehouse at run time.
#}
{% macro pcdp_account_rollups() %}
    {% if not execute %}
        {{ return([]) }}
    {% endif %}
    {% set columns = {} %}
    {% for column in adapter.get_columns_in_relation(ref('customer_profile')) %}
        {% do columns.update({column.name: column.data_type | upper}) %}
    {% endfor %}
    {% set rollups = [] %}
    {% for column, aggregate, name in [
        ('monetary', 'sum', 'monetary_sum'),
        ('frequency', 'sum', 'frequency_sum'),
        ('events_30d', 'sum', 'events_30d_sum'),
        ('events_90d', 'sum', 'events_90d_sum'),
        ('recency_days', 'min', 'recency_days_min'),
        ('last_seen_at', 'max', 'last_seen_at'),
    ] if column in columns %}
        {% do rollups.append({
            'name': name, 'expression': aggregate ~ '(profile.' ~ column ~ ')'
        }) %}
    {% endfor %}
    {% set instance_types = {} %}
    {% for attribute, instance_type in run_query(
        'select distinct predictions.attribute, instances.type from '
        ~ ref('predictions') ~ ' as predictions inner join ' ~ ref('int_model_instances')
        ~ ' as instances on predictions.instance_id = instances.instance_id'
        ~ " where instances.configured_status != 'draft' order by 1, 2"
    ).rows %}
        {% do instance_types.update({attribute: instance_type}) %}
    {% endfor %}
    {% for column, data_type in columns.items()
        if column in instance_types and modules.re.fullmatch('[a-z][a-z0-9_]*', column) %}
        {% if pcdp_is_numeric_type(data_type) and instance_types[column] == 'pcltv' %}
            {% do rollups.append({
                'name': column ~ '_sum', 'expression': 'sum(profile.' ~ column ~ ')'
            }) %}
        {% elif pcdp_is_numeric_type(data_type) %}
            {% do rollups.append({
                'name': column ~ '_max', 'expression': 'max(profile.' ~ column ~ ')'
            }) %}
            {% do rollups.append({
                'name': column ~ '_mean',
                'expression': 'avg(cast(profile.' ~ column ~ ' as double))',
            }) %}
        {% elif data_type == 'BOOLEAN' %}
            {% do rollups.append({
                'name': column ~ '_members',
                'expression': 'count(*) filter (where profile.' ~ column ~ ')',
            }) %}
        {% endif %}
    {% endfor %}
    {{ return(rollups) }}
{% endmacro %}


{#
  The customer_profile column signal_conversion_values takes its value from: var
  signal_value_attribute when customer_profile has it as a number, else none (the model is
  then empty, and a warning says why).
#}
{% macro pcdp_signal_value_column() %}
    {% if not execute %}
        {{ return(none) }}
    {% endif %}
    {% set attribute = var('signal_value_attribute') | string %}
    {% set found = [] %}
    {% for column in adapter.get_columns_in_relation(ref('customer_profile')) %}
        {% if column.name == attribute %}
            {% do found.append(column.data_type) %}
        {% endif %}
    {% endfor %}
    {% if not modules.re.fullmatch('[a-z][a-z0-9_]*', attribute) or not found %}
        {% do exceptions.warn(
            "signal_conversion_values is empty: customer_profile has no column '" ~ attribute
            ~ "' (var signal_value_attribute) yet"
        ) %}
        {{ return(none) }}
    {% endif %}
    {% if not pcdp_is_numeric_type(found[0]) %}
        {% do exceptions.warn(
            "signal_conversion_values is empty: customer_profile." ~ attribute
            ~ " is " ~ found[0] ~ ", not a number (var signal_value_attribute)"
        ) %}
        {{ return(none) }}
    {% endif %}
    {{ return(attribute) }}
{% endmacro %}


{# var signal_value_multiplier as a SQL number; a value that is not a number is refused. #}
{% macro pcdp_signal_value_multiplier() %}
    {% set multiplier = var('signal_value_multiplier') | string %}
    {% if not modules.re.fullmatch('[0-9]+(\\.[0-9]+)?', multiplier) %}
        {% do exceptions.raise_compiler_error(
            "var signal_value_multiplier must be a non-negative number, got '" ~ multiplier ~ "'"
        ) %}
    {% endif %}
    {{ return('cast(' ~ multiplier ~ ' as double)') }}
{% endmacro %}
