# fastmta from source on Deno 2.9.6 (installed from the npm registry, like everywhere else).
#   docker build -t fastmta .
#   docker run -p 25:25 -p 587:587 -p 8025:8025 -v fastmta-data:/data fastmta
# Configuration: mount a config file and pass `--config /etc/fastmta/app.json`, or use the
# FASTMTA_* environment variables (README "Configuration"). Relaying without AUTH is allowed only
# from smtp.relay_networks (loopback by default): set it for your network.
# Not built in CI here (no container registry is reachable from our machines).
FROM node:20-bookworm-slim

RUN npx -y deno@2.9.6 --version \
 && ln -s "$(dirname "$(readlink -f "$(find /root/.npm/_npx -path '*/.bin/deno' | head -1)")")/deno" /usr/local/bin/deno \
 && deno --version

WORKDIR /app
COPY . .
# Fetch every npm dependency at build time, so the container starts without the registry.
RUN deno install --entrypoint main.ts workers/smtp_worker.ts workers/delivery_worker.ts workers/inject_worker.ts

# No update check: the MTA makes no connection its configuration does not imply.
ENV DENO_NO_UPDATE_CHECK=1 \
    FASTMTA_DATA_DIR=/data \
    FASTMTA_SMTP_LISTEN=0.0.0.0:25,0.0.0.0:587 \
    FASTMTA_ADMIN_LISTEN=0.0.0.0:8025
VOLUME /data
EXPOSE 25 587 8025
ENTRYPOINT ["deno", "task", "start"]
