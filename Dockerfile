# The scantoken container image: the statically linked release binary (musl) and a CA bundle on
# an empty base, nothing else: no shell, no package manager. Built by the release workflow
# (.github/workflows/release.yml) for linux/amd64 and linux/arm64 from a context it lays out:
#
#   linux-amd64/scantoken        the linux-x64 release binary (x86_64-unknown-linux-musl)
#   linux-arm64/scantoken        the linux-arm64 release binary (aarch64-unknown-linux-musl)
#   ca-certificates.crt          the build runner's CA bundle (Ubuntu's ca-certificates)
#
# scantoken trusts the platform's roots, found on Linux at /etc/ssl/certs/ca-certificates.crt:
# without the bundle every https probe would end in tls-untrusted. SSL_CERT_FILE is not set:
# scantoken reads it as an extra CA for the scan, not as the platform's roots.
#
# Use it as a stage to copy the binary into the image a job runs in (GitLab, Jenkins and
# Bitbucket jobs need a shell there), or run it as it is:
#   COPY --from=ghcr.io/scantoken/scantoken:0.1.0 /usr/local/bin/scantoken /usr/local/bin/
#   docker run --rm -e SONAR_TOKEN ghcr.io/scantoken/scantoken:0.1.0 verify --project-key KEY
FROM scratch

ARG TARGETOS
ARG TARGETARCH

LABEL org.opencontainers.image.title="scantoken" \
      org.opencontainers.image.description="Hand a Sonar scan its token in CI: prove the token can scan, export the scanner's environment." \
      org.opencontainers.image.source="https://github.com/scantoken/scantoken" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --chmod=0555 ${TARGETOS}-${TARGETARCH}/scantoken /usr/local/bin/scantoken

# No root inside: scantoken needs no privileges (65532 is the usual "nonroot" id).
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/scantoken"]
CMD ["--help"]
