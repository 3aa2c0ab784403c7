"""Who may use the service: user accounts, their passwords and API tokens, and the limit on
failed sign-ins. The web layer (`quote_service.web.auth`) decides per request; this package
holds the records and the checks it relies on."""
