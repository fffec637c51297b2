{% test unique_combination_of_columns(model, combination_of_columns) %}
    {{ return(adapter.dispatch('test_unique_combination_of_columns', 'pcdp')(
        model, combination_of_columns
    )) }}
{% endtest %}
