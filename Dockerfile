# The voice server on its embedded default models (Whisper base, Piper en_US-joe-medium).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 VOICE_CACHE_DIR=/var/cache/voice NUMBA_CACHE_DIR=/var/cache/voice/numba
WORKDIR /app
COPY pyproject.toml README.md ./
COPY voice ./voice
COPY kernels ./kernels
COPY clients ./clients
RUN pip install --no-cache-dir . && mkdir -p /var/cache/voice
EXPOSE 50051
CMD ["voice", "serve", "--host", "0.0.0.0", "--port", "50051"]
