'use strict';

const SEP = '/';

function normalize(path) {
  if (!path) return '.';
  const absolute = path.startsWith(SEP);
  const parts = [];
  for (const segment of path.split(SEP)) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (parts.length && parts[parts.length - 1] !== '..') {
        parts.pop();
      } else if (!absolute) {
        parts.push('..');
      }
    } else {
      parts.push(segment);
    }
  }
  const joined = parts.join(SEP);
  if (absolute) return SEP + joined;
  return joined || '.';
}

function join(...segments) {
  const nonEmpty = segments.filter((segment) => segment && segment.length > 0);
  return nonEmpty.length ? normalize(nonEmpty.join(SEP)) : '.';
}

function basename(path, ext = '') {
  const trimmed = path.replace(/\/+$/, '');
  const name = trimmed.slice(trimmed.lastIndexOf(SEP) + 1);
  if (ext && name.endsWith(ext) && name !== ext) {
    return name.slice(0, -ext.length);
  }
  return name;
}

function dirname(path) {
  const trimmed = path.replace(/\/+$/, '');
  const index = trimmed.lastIndexOf(SEP);
  if (index === -1) return '.';
  if (index === 0) return SEP;
  return trimmed.slice(0, index);
}

function extname(path) {
  const name = basename(path);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return '';
  return name.slice(dot);
}

function changeExtension(path, newExt) {
  const ext = extname(path);
  const stem = ext ? path.slice(0, -ext.length) : path;
  const suffix = newExt && !newExt.startsWith('.') ? `.${newExt}` : newExt;
  return stem + (suffix || '');
}

function relative(from, to) {
  const fromParts = normalize(from).split(SEP).filter(Boolean);
  const toParts = normalize(to).split(SEP).filter(Boolean);
  let common = 0;
  while (common < fromParts.length && fromParts[common] === toParts[common]) {
    common++;
  }
  const ups = fromParts.slice(common).map(() => '..');
  const result = [...ups, ...toParts.slice(common)].join(SEP);
  return result || '.';
}

function isInside(parent, child) {
  const rel = relative(parent, child);
  return rel !== '..' && !rel.startsWith('../') && !rel.startsWith(SEP);
}

function splitAll(path) {
  const parts = normalize(path).split(SEP);
  if (path.startsWith(SEP)) {
    parts[0] = SEP;
  }
  return parts.filter((part) => part !== '');
}

function globToRegExp(pattern) {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
      if (pattern[i + 1] === SEP) i++;
    } else if (ch === '*') {
      source += '[^/]*';
    } else if (ch === '?') {
      source += '[^/]';
    } else {
      source += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

function matchAny(path, patterns) {
  const normalized = normalize(path);
  return patterns.some((pattern) => globToRegExp(pattern).test(normalized));
}

function groupByExtension(paths) {
  const groups = {};
  for (const path of paths) {
    const ext = extname(path).toLowerCase() || '(none)';
    if (!groups[ext]) groups[ext] = [];
    groups[ext].push(path);
  }
  return groups;
}

module.exports = {
  normalize,
  join,
  basename,
  dirname,
  extname,
  changeExtension,
  relative,
  isInside,
  splitAll,
  globToRegExp,
  matchAny,
  groupByExtension,
};
