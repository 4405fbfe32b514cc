# syntax=docker/dockerfile:1
# Build: make docker (passes the version build args), or
#   docker build --build-arg VERSION=1.2.3 -t debt-exporter .

FROM golang:1.26 AS builder
# .git is not in the build context (.dockerignore): the version is stamped
# from these build args by the same `make build` a developer runs.
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG BRANCH=unknown
ARG BUILD_USER=docker
ARG BUILD_DATE=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build VERSION="$VERSION" REVISION="$REVISION" BRANCH="$BRANCH" BUILD_USER="$BUILD_USER" BUILD_DATE="$BUILD_DATE"

# Static binary, no shell, runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /src/debt_exporter /bin/debt_exporter
USER nonroot:nonroot
EXPOSE 9846
ENTRYPOINT ["/bin/debt_exporter"]
