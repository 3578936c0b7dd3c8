'use strict';

class EventEmitter {
  constructor({ maxListeners = 10 } = {}) {
    this.maxListeners = maxListeners;
    this._handlers = new Map();
    this._warned = new Set();
  }

  on(event, handler, { once = false, priority = 0 } = {}) {
    if (typeof handler !== 'function') {
      throw new TypeError(`Handler for "${event}" must be a function`);
    }
    const list = this._handlers.get(event) || [];
    list.push({ handler, once, priority });
    list.sort((a, b) => b.priority - a.priority);
    this._handlers.set(event, list);
    this._checkLeak(event, list.length);
    return () => this.off(event, handler);
  }

  once(event, handler, options = {}) {
    return this.on(event, handler, { ...options, once: true });
  }

  off(event, handler) {
    const list = this._handlers.get(event);
    if (!list) return false;
    const index = list.findIndex((entry) => entry.handler === handler);
    if (index === -1) return false;
    list.splice(index, 1);
    if (list.length === 0) {
      this._handlers.delete(event);
    }
    return true;
  }

  emit(event, ...args) {
    const list = this._handlers.get(event);
    if (!list || list.length === 0) {
      if (event === 'error') {
        throw args[0] instanceof Error ? args[0] : new Error(String(args[0]));
      }
      return false;
    }
    for (const entry of [...list]) {
      if (entry.once) {
        this.off(event, entry.handler);
      }
      try {
        entry.handler.apply(this, args);
      } catch (err) {
        if (event === 'error') throw err;
        this.emit('error', err);
      }
    }
    return true;
  }

  async emitAsync(event, ...args) {
    const list = this._handlers.get(event) || [];
    const results = [];
    for (const entry of [...list]) {
      if (entry.once) {
        this.off(event, entry.handler);
      }
      results.push(await entry.handler.apply(this, args));
    }
    return results;
  }

  waitFor(event, timeoutMs = 0) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const handler = (...args) => {
        if (timer) clearTimeout(timer);
        resolve(args.length <= 1 ? args[0] : args);
      };
      this.once(event, handler);
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          this.off(event, handler);
          reject(new Error(`Timed out waiting for "${event}"`));
        }, timeoutMs);
      }
    });
  }

  listenerCount(event) {
    const list = this._handlers.get(event);
    return list ? list.length : 0;
  }

  eventNames() {
    return [...this._handlers.keys()];
  }

  removeAllListeners(event) {
    if (event === undefined) {
      this._handlers.clear();
    } else {
      this._handlers.delete(event);
    }
    return this;
  }

  _checkLeak(event, count) {
    if (this.maxListeners > 0 && count > this.maxListeners && !this._warned.has(event)) {
      this._warned.add(event);
      console.warn(`Possible listener leak: ${count} handlers for "${event}"`);
    }
  }
}

function pipe(source, target, events) {
  const unsubscribers = events.map((event) =>
    source.on(event, (...args) => target.emit(event, ...args))
  );
  return () => unsubscribers.forEach((unsubscribe) => unsubscribe());
}

module.exports = { EventEmitter, pipe };
