from meterhub.accounts import context


class RequestContextMiddleware:
    """Per request: who is acting and from where, for the audit log."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user if getattr(request, "user", None) and request.user.is_authenticated else None
        token = context.current.set(
            context.Acting(user=user, ip=context.client_ip(request), user_agent=context.user_agent(request))
        )
        try:
            return self.get_response(request)
        finally:
            context.current.reset(token)
