'use strict';

function requireNumbers(values) {
  if (!Array.isArray(values) || values.length === 0) {
    throw new Error('Expected a non-empty array of numbers');
  }
  const bad = values.find((value) => typeof value !== 'number' || Number.isNaN(value));
  if (bad !== undefined) {
    throw new TypeError(`Not a number: ${bad}`);
  }
  return values;
}

function sum(values) {
  return values.reduce((total, value) => total + value, 0);
}

function mean(values) {
  requireNumbers(values);
  return sum(values) / values.length;
}

function median(values) {
  const sorted = [...requireNumbers(values)].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 0) {
    return (sorted[middle - 1] + sorted[middle]) / 2;
  }
  return sorted[middle];
}

function mode(values) {
  const counts = new Map();
  for (const value of requireNumbers(values)) {
    counts.set(value, (counts.get(value) || 0) + 1);
  }
  let best = null;
  let bestCount = 0;
  for (const [value, count] of counts) {
    if (count > bestCount || (count === bestCount && value < best)) {
      best = value;
      bestCount = count;
    }
  }
  return best;
}

function variance(values, { sample = true } = {}) {
  const avg = mean(values);
  const squares = values.map((value) => (value - avg) ** 2);
  const divisor = sample ? values.length - 1 : values.length;
  return divisor > 0 ? sum(squares) / divisor : 0;
}

function stdDev(values, options) {
  return Math.sqrt(variance(values, options));
}

function percentile(values, p) {
  if (p < 0 || p > 100) {
    throw new RangeError('Percentile must be between 0 and 100');
  }
  const sorted = [...requireNumbers(values)].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  const weight = rank - lower;
  return sorted[lower] * (1 - weight) + sorted[upper] * weight;
}

function summary(values) {
  const sorted = [...requireNumbers(values)].sort((a, b) => a - b);
  return {
    count: sorted.length,
    min: sorted[0],
    max: sorted[sorted.length - 1],
    mean: mean(sorted),
    median: median(sorted),
    p90: percentile(sorted, 90),
    stdDev: stdDev(sorted),
  };
}

function histogram(values, binCount = 10) {
  requireNumbers(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  const width = (max - min) / binCount || 1;
  const bins = Array.from({ length: binCount }, (_, index) => ({
    start: min + index * width,
    end: min + (index + 1) * width,
    count: 0,
  }));
  for (const value of values) {
    const index = Math.min(binCount - 1, Math.floor((value - min) / width));
    bins[index].count += 1;
  }
  return bins;
}

function renderHistogram(bins, { barWidth = 40, digits = 1 } = {}) {
  const largest = Math.max(...bins.map((bin) => bin.count), 1);
  const labels = bins.map((bin) => `${bin.start.toFixed(digits)}-${bin.end.toFixed(digits)}`);
  const labelWidth = Math.max(...labels.map((label) => label.length));
  return bins
    .map((bin, index) => {
      const bar = '#'.repeat(Math.round((bin.count / largest) * barWidth));
      return `${labels[index].padStart(labelWidth)} | ${bar} ${bin.count}`;
    })
    .join('\n');
}

function correlation(xs, ys) {
  if (xs.length !== ys.length) {
    throw new Error('Series must have the same length');
  }
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let dx = 0;
  let dy = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    dx += (xs[i] - mx) ** 2;
    dy += (ys[i] - my) ** 2;
  }
  return dx && dy ? num / Math.sqrt(dx * dy) : 0;
}

function movingAverage(values, window = 3) {
  const result = [];
  let running = 0;
  values.forEach((value, index) => {
    running += value;
    if (index >= window) running -= values[index - window];
    if (index >= window - 1) result.push(running / window);
  });
  return result;
}

module.exports = {
  sum,
  mean,
  median,
  mode,
  variance,
  stdDev,
  percentile,
  summary,
  histogram,
  renderHistogram,
  correlation,
  movingAverage,
};
