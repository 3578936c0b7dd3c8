'use strict';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class RetryError extends Error {
  constructor(message, attempts, lastError) {
    super(message);
    this.name = 'RetryError';
    this.attempts = attempts;
    this.lastError = lastError;
  }
}

function computeDelay(attempt, { baseMs = 100, maxMs = 10000, factor = 2, jitter = 'full' } = {}) {
  const exponential = Math.min(maxMs, baseMs * Math.pow(factor, attempt - 1));
  switch (jitter) {
    case 'none':
      return exponential;
    case 'equal':
      return exponential / 2 + Math.random() * (exponential / 2);
    case 'full':
    default:
      return Math.random() * exponential;
  }
}

function isRetryableHttpError(err) {
  if (!err) return false;
  if (['ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN'].includes(err.code)) {
    return true;
  }
  const status = err.status || err.statusCode;
  return status === 429 || (status >= 500 && status < 600);
}

async function retry(fn, options = {}) {
  const {
    attempts = 3,
    shouldRetry = () => true,
    onRetry = () => {},
    wait = sleep,
    ...delayOptions
  } = options;
  let lastError;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      lastError = err;
      if (attempt === attempts || !shouldRetry(err, attempt)) {
        break;
      }
      const delay = err.retryAfterMs ?? computeDelay(attempt, delayOptions);
      onRetry(err, attempt, delay);
      await wait(delay);
    }
  }
  throw new RetryError(`Failed after ${attempts} attempts`, attempts, lastError);
}

function withTimeout(promise, ms, label = 'operation') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label} timed out after ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

class CircuitBreaker {
  constructor({ failureThreshold = 5, resetAfterMs = 30000, now = Date.now } = {}) {
    this.failureThreshold = failureThreshold;
    this.resetAfterMs = resetAfterMs;
    this.now = now;
    this.failures = 0;
    this.openedAt = null;
  }

  get state() {
    if (this.openedAt === null) return 'closed';
    if (this.now() - this.openedAt >= this.resetAfterMs) return 'half-open';
    return 'open';
  }

  async call(fn) {
    if (this.state === 'open') {
      throw new Error('Circuit is open; refusing call');
    }
    try {
      const result = await fn();
      this.recordSuccess();
      return result;
    } catch (err) {
      this.recordFailure();
      throw err;
    }
  }

  recordSuccess() {
    this.failures = 0;
    this.openedAt = null;
  }

  recordFailure() {
    this.failures += 1;
    if (this.state === 'half-open' || this.failures >= this.failureThreshold) {
      this.openedAt = this.now();
    }
  }
}

async function fetchJsonWithRetry(fetchImpl, url, options = {}) {
  return retry(
    async () => {
      const response = await fetchImpl(url, options.request);
      if (!response.ok) {
        const err = new Error(`HTTP ${response.status} for ${url}`);
        err.status = response.status;
        const retryAfter = Number(response.headers?.get?.('retry-after'));
        if (retryAfter > 0) err.retryAfterMs = retryAfter * 1000;
        throw err;
      }
      return response.json();
    },
    { shouldRetry: isRetryableHttpError, ...options }
  );
}

module.exports = {
  sleep,
  RetryError,
  computeDelay,
  isRetryableHttpError,
  retry,
  withTimeout,
  CircuitBreaker,
  fetchJsonWithRetry,
};
