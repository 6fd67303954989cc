# syntax=docker/dockerfile:1
# The scopedns manager image: a static Go binary on distroless, run as a
# non-root user.
#
#   docker build -t ghcr.io/scopedns/scopedns:dev .
#   docker buildx build --platform linux/amd64,linux/arm64 -t … --push .
#
# Base images are pinned by tag. For reproducible release builds pin them by
# digest as well, e.g.
#   FROM golang:1.26.8-bookworm@sha256:<digest> AS builder
#   FROM gcr.io/distroless/static:nonroot@sha256:<digest>
# (`docker buildx imagetools inspect <image>` prints the digest) and let a bot
# such as Renovate or Dependabot bump them. The builder's Go version must match
# go.mod's go line; test/chart checks that it does.

FROM --platform=$BUILDPLATFORM golang:1.26.8-bookworm AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
# Dependencies first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
COPY hack/build-manager.sh hack/build-manager.sh
# The same command test/chart runs: CGO_ENABLED=0 go build -trimpath -ldflags="-s -w".
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS} GOARCH=${TARGETARCH} hack/build-manager.sh /out/manager

FROM gcr.io/distroless/static:nonroot
LABEL org.opencontainers.image.source="https://github.com/scopedns/scopedns" \
      org.opencontainers.image.description="scopedns: least-privilege DNS credentials for Kubernetes"
WORKDIR /
COPY --from=builder /out/manager /manager
# distroless' nonroot user; the chart's securityContext runs as the same UID.
USER 65532:65532
ENTRYPOINT ["/manager"]
