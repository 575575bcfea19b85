# Builds Caddy with caddy-gameauth from this checkout:
#   docker build -f xcaddy.Dockerfile -t caddy-gameauth .
# The module is not published, so xcaddy gets it as a local replacement
# (the @v0.0.0 is needed: a bare local path makes Go ask the module proxy).
ARG CADDY_VERSION=2.11.9

FROM caddy:${CADDY_VERSION}-builder AS builder
ARG CADDY_VERSION
WORKDIR /src/caddy-gameauth
COPY . .
RUN xcaddy build "v${CADDY_VERSION}" \
	--with github.com/gameauth/caddy-gameauth@v0.0.0=/src/caddy-gameauth \
	--output /usr/bin/caddy

FROM caddy:${CADDY_VERSION}
COPY --from=builder /usr/bin/caddy /usr/bin/caddy
