"""The bot's HTTP side: room pages, joining, WebRTC signalling, health and metrics.

Why a package: the routes, the rules they enforce (tickets, rate limits, admission,
ICE candidates, body and time limits) and the bookkeeping that keeps one ticket to one
call are each their own module, so none of them shares state through a closure.
`bot.http.app.create_app` puts them together.
"""
