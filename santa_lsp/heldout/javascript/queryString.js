'use strict';

/**
 * Helpers for building and picking apart URLs and query strings.
 */

function encodePart(value) {
  return encodeURIComponent(String(value)).replace(/%20/g, '+');
}

function decodePart(value) {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch (err) {
    return value;
  }
}

function parseQuery(query) {
  const result = {};
  const text = query.startsWith('?') ? query.slice(1) : query;
  if (!text) {
    return result;
  }
  for (const pair of text.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = decodePart(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodePart(pair.slice(eq + 1));
    if (Object.prototype.hasOwnProperty.call(result, key)) {
      const existing = result[key];
      result[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
    } else {
      result[key] = value;
    }
  }
  return result;
}

function stringifyQuery(params, { sort = false, skipEmpty = true } = {}) {
  const keys = Object.keys(params);
  if (sort) keys.sort();
  const parts = [];
  for (const key of keys) {
    const value = params[key];
    if (value === undefined || value === null) continue;
    if (skipEmpty && value === '') continue;
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) {
      parts.push(`${encodePart(key)}=${encodePart(item)}`);
    }
  }
  return parts.join('&');
}

function splitUrl(url) {
  const hashIndex = url.indexOf('#');
  const hash = hashIndex === -1 ? '' : url.slice(hashIndex + 1);
  const withoutHash = hashIndex === -1 ? url : url.slice(0, hashIndex);
  const queryIndex = withoutHash.indexOf('?');
  const base = queryIndex === -1 ? withoutHash : withoutHash.slice(0, queryIndex);
  const query = queryIndex === -1 ? '' : withoutHash.slice(queryIndex + 1);
  return { base, query, hash };
}

function parseUrl(url) {
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/:?#]+)(?::(\d+))?(\/[^?#]*)?/i.exec(url);
  if (!match) {
    throw new Error(`Not an absolute URL: ${url}`);
  }
  const { query, hash } = splitUrl(url);
  const protocol = match[1].toLowerCase();
  return {
    protocol,
    host: match[2].toLowerCase(),
    port: match[3] ? Number(match[3]) : defaultPort(protocol),
    path: match[4] || '/',
    query: parseQuery(query),
    hash,
  };
}

function defaultPort(protocol) {
  switch (protocol) {
    case 'http':
      return 80;
    case 'https':
      return 443;
    case 'ftp':
      return 21;
    default:
      return null;
  }
}

function withParams(url, params) {
  const { base, query, hash } = splitUrl(url);
  const merged = { ...parseQuery(query), ...params };
  const qs = stringifyQuery(merged);
  return base + (qs ? `?${qs}` : '') + (hash ? `#${hash}` : '');
}

function withoutParams(url, ...names) {
  const { base, query, hash } = splitUrl(url);
  const params = parseQuery(query);
  for (const name of names) {
    delete params[name];
  }
  const qs = stringifyQuery(params, { skipEmpty: false });
  return base + (qs ? `?${qs}` : '') + (hash ? `#${hash}` : '');
}

function joinPath(...segments) {
  const cleaned = segments
    .filter((segment) => segment !== undefined && segment !== '')
    .map((segment, index) => {
      const text = String(segment);
      return index === 0 ? text.replace(/\/+$/, '') : text.replace(/^\/+|\/+$/g, '');
    });
  return cleaned.join('/');
}

function isSameOrigin(a, b) {
  const left = parseUrl(a);
  const right = parseUrl(b);
  return left.protocol === right.protocol && left.host === right.host && left.port === right.port;
}

module.exports = {
  parseQuery,
  stringifyQuery,
  splitUrl,
  parseUrl,
  withParams,
  withoutParams,
  joinPath,
  isSameOrigin,
};
