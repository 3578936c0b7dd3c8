'use strict';

function slugify(text, { separator = '-', maxLength = 80 } = {}) {
  let slug = String(text)
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .trim()
    .replace(/&/g, ' and ')
    .replace(/[^a-z0-9]+/g, separator)
    .replace(new RegExp(`^\\${separator}+|\\${separator}+$`, 'g'), '');
  if (slug.length > maxLength) {
    const cut = slug.lastIndexOf(separator, maxLength);
    slug = slug.slice(0, cut > 0 ? cut : maxLength);
  }
  return slug;
}

function capitalize(word) {
  if (!word) return word;
  return word.charAt(0).toUpperCase() + word.slice(1).toLowerCase();
}

function titleCase(text) {
  const small = new Set(['a', 'an', 'and', 'of', 'the', 'in', 'on', 'to', 'for']);
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map((word, index) => {
      const lower = word.toLowerCase();
      return index > 0 && small.has(lower) ? lower : capitalize(word);
    })
    .join(' ');
}

function camelCase(text) {
  const words = splitWords(text);
  return words
    .map((word, index) => (index === 0 ? word.toLowerCase() : capitalize(word)))
    .join('');
}

function snakeCase(text) {
  return splitWords(text).map((word) => word.toLowerCase()).join('_');
}

function splitWords(text) {
  return String(text)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
}

function truncate(text, maxLength, ellipsis = '...') {
  if (text.length <= maxLength) return text;
  const room = maxLength - ellipsis.length;
  if (room <= 0) return ellipsis.slice(0, maxLength);
  const cut = text.lastIndexOf(' ', room);
  return text.slice(0, cut > room / 2 ? cut : room).trimEnd() + ellipsis;
}

function wrap(text, width = 72, indent = '') {
  const lines = [];
  for (const paragraph of text.split(/\n\s*\n/)) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && line.length + word.length + 1 > width - indent.length) {
        lines.push(indent + line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    if (line) lines.push(indent + line);
    lines.push('');
  }
  return lines.slice(0, -1).join('\n');
}

function pad(text, width, align = 'left', fill = ' ') {
  const gap = width - text.length;
  if (gap <= 0) return text;
  if (align === 'right') return fill.repeat(gap) + text;
  if (align === 'center') {
    const left = Math.floor(gap / 2);
    return fill.repeat(left) + text + fill.repeat(gap - left);
  }
  return text + fill.repeat(gap);
}

function countOccurrences(text, needle) {
  if (!needle) return 0;
  let count = 0;
  let index = text.indexOf(needle);
  while (index !== -1) {
    count++;
    index = text.indexOf(needle, index + needle.length);
  }
  return count;
}

function pluralize(count, singular, plural = `${singular}s`) {
  return `${count} ${count === 1 ? singular : plural}`;
}

function stripTags(html) {
  return html.replace(/<[^>]*>/g, '').replace(/\s+/g, ' ').trim();
}

function escapeHtml(text) {
  const map = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  return String(text).replace(/[&<>"']/g, (ch) => map[ch]);
}

module.exports = {
  slugify,
  capitalize,
  titleCase,
  camelCase,
  snakeCase,
  splitWords,
  truncate,
  wrap,
  pad,
  countOccurrences,
  pluralize,
  stripTags,
  escapeHtml,
};
