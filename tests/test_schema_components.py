"""The OpenAPI schema names each serializer once: no two serializers share a component
name (drf-spectacular then publishes one under the other's name, and the schema is wrong)."""

from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator


def test_schema_generation_reports_no_component_collisions():
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        SchemaGenerator().get_schema(request=None, public=True)
    warnings = list(GENERATOR_STATS._warn_cache)
    errors = list(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()

    collisions = [warning for warning in warnings if "identical names" in warning]
    assert collisions == []
    assert warnings == []  # nor any other naming warning (one enum under two names)
    assert errors == []
