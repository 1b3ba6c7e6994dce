# pushlua in a container: a static binary on a distroless base, as a
# non-root user.
#
#   docker build -t pushlua .
#   docker run --rm -p 8787:8787 -v /etc/pushlua:/etc/pushlua:ro -v pushlua-data:/var/lib/pushlua \
#     -e PUSHLUA_AUTH_TOKEN=secret pushlua serve -c /etc/pushlua/pushlua.conf --listen 0.0.0.0:8787
#
# Listening on anything but loopback needs pushlua_auth_token (or
# PUSHLUA_AUTH_TOKEN). With the forwarder's spool, mount the spool
# directory and run as the mail processes' uid (--user 5000:5000).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go (go-lua, no cgo): a static binary that runs on any base.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/pushlua ./cmd/pushlua \
 && /out/pushlua version

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pushlua /usr/local/bin/pushlua
# nonroot is uid 65532; the store and the write-ahead log live here.
VOLUME ["/var/lib/pushlua"]
ENV XDG_STATE_HOME=/var/lib
USER nonroot:nonroot
EXPOSE 8787
ENTRYPOINT ["/usr/local/bin/pushlua"]
CMD ["serve", "--data-dir", "/var/lib/pushlua", "--listen", "127.0.0.1:8787"]
