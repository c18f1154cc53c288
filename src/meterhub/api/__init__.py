"""The integrator API (/api/v1/), django-ninja with an OpenAPI schema."""
