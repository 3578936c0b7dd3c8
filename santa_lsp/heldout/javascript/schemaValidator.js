'use strict';

/**
 * A small validator for JSON-like values described by plain schema objects.
 * Example schema: { type: 'object', required: ['id'], properties: { id: { type: 'number' } } }
 */

function typeOf(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (Number.isInteger(value)) return 'integer';
  return typeof value;
}

function matchesType(value, expected) {
  const actual = typeOf(value);
  if (expected === 'number') return actual === 'number' || actual === 'integer';
  return actual === expected;
}

function checkString(value, schema, path, errors) {
  if (schema.minLength !== undefined && value.length < schema.minLength) {
    errors.push(`${path}: shorter than ${schema.minLength} characters`);
  }
  if (schema.maxLength !== undefined && value.length > schema.maxLength) {
    errors.push(`${path}: longer than ${schema.maxLength} characters`);
  }
  if (schema.pattern && !new RegExp(schema.pattern).test(value)) {
    errors.push(`${path}: does not match ${schema.pattern}`);
  }
}

function checkNumber(value, schema, path, errors) {
  if (schema.minimum !== undefined && value < schema.minimum) {
    errors.push(`${path}: must be >= ${schema.minimum}`);
  }
  if (schema.maximum !== undefined && value > schema.maximum) {
    errors.push(`${path}: must be <= ${schema.maximum}`);
  }
}

function checkArray(value, schema, path, errors) {
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    errors.push(`${path}: needs at least ${schema.minItems} items`);
  }
  if (schema.uniqueItems) {
    const seen = new Set(value.map((item) => JSON.stringify(item)));
    if (seen.size !== value.length) {
      errors.push(`${path}: items must be unique`);
    }
  }
  if (schema.items) {
    value.forEach((item, index) => validateAt(item, schema.items, `${path}[${index}]`, errors));
  }
}

function checkObject(value, schema, path, errors) {
  const properties = schema.properties || {};
  for (const key of schema.required || []) {
    if (!(key in value)) {
      errors.push(`${path}.${key}: is required`);
    }
  }
  for (const [key, child] of Object.entries(value)) {
    if (properties[key]) {
      validateAt(child, properties[key], `${path}.${key}`, errors);
    } else if (schema.additionalProperties === false) {
      errors.push(`${path}.${key}: unexpected property`);
    }
  }
}

function validateAt(value, schema, path, errors) {
  if (schema.enum && !schema.enum.includes(value)) {
    errors.push(`${path}: must be one of ${schema.enum.join(', ')}`);
    return;
  }
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((type) => matchesType(value, type))) {
      errors.push(`${path}: expected ${types.join(' or ')}, got ${typeOf(value)}`);
      return;
    }
  }
  const kind = typeOf(value);
  if (kind === 'string') checkString(value, schema, path, errors);
  else if (kind === 'number' || kind === 'integer') checkNumber(value, schema, path, errors);
  else if (kind === 'array') checkArray(value, schema, path, errors);
  else if (kind === 'object') checkObject(value, schema, path, errors);
  if (typeof schema.check === 'function') {
    const message = schema.check(value);
    if (message) errors.push(`${path}: ${message}`);
  }
}

function validate(value, schema) {
  const errors = [];
  validateAt(value, schema, '$', errors);
  return { valid: errors.length === 0, errors };
}

function assertValid(value, schema, label = 'value') {
  const { valid, errors } = validate(value, schema);
  if (!valid) {
    const error = new Error(`Invalid ${label}:\n  ${errors.join('\n  ')}`);
    error.details = errors;
    throw error;
  }
  return value;
}

function applyDefaults(value, schema) {
  if (typeOf(value) !== 'object' || !schema.properties) {
    return value;
  }
  const result = { ...value };
  for (const [key, child] of Object.entries(schema.properties)) {
    if (result[key] === undefined && child.default !== undefined) {
      result[key] = child.default;
    } else if (result[key] !== undefined) {
      result[key] = applyDefaults(result[key], child);
    }
  }
  return result;
}

function parseAndValidate(json, schema) {
  let data;
  try {
    data = JSON.parse(json);
  } catch (err) {
    return { valid: false, errors: [`$: invalid JSON (${err.message})`], data: undefined };
  }
  const withDefaults = applyDefaults(data, schema);
  return { ...validate(withDefaults, schema), data: withDefaults };
}

module.exports = { typeOf, validate, assertValid, applyDefaults, parseAndValidate };
