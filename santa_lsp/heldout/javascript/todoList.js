'use strict';

const PRIORITIES = ['low', 'normal', 'high'];

class Todo {
  constructor({ id, title, priority = 'normal', due = null, tags = [] }) {
    this.id = id;
    this.title = title;
    this.priority = priority;
    this.due = due ? new Date(due) : null;
    this.tags = new Set(tags);
    this.done = false;
    this.completedAt = null;
  }

  isOverdue(now = new Date()) {
    return !this.done && this.due !== null && this.due < now;
  }

  toJSON() {
    return {
      id: this.id,
      title: this.title,
      priority: this.priority,
      due: this.due ? this.due.toISOString().slice(0, 10) : null,
      tags: [...this.tags],
      done: this.done,
    };
  }
}

class TodoList {
  constructor() {
    this.items = new Map();
    this.nextId = 1;
  }

  add(title, options = {}) {
    const trimmed = String(title || '').trim();
    if (!trimmed) {
      throw new Error('Todo title cannot be empty');
    }
    if (options.priority && !PRIORITIES.includes(options.priority)) {
      throw new Error(`Unknown priority: ${options.priority}`);
    }
    const todo = new Todo({ ...options, id: this.nextId++, title: trimmed });
    this.items.set(todo.id, todo);
    return todo;
  }

  get(id) {
    const todo = this.items.get(id);
    if (!todo) {
      throw new Error(`No todo with id ${id}`);
    }
    return todo;
  }

  complete(id, when = new Date()) {
    const todo = this.get(id);
    todo.done = true;
    todo.completedAt = when;
    return todo;
  }

  reopen(id) {
    const todo = this.get(id);
    todo.done = false;
    todo.completedAt = null;
    return todo;
  }

  remove(id) {
    return this.items.delete(id);
  }

  rename(id, title) {
    const todo = this.get(id);
    todo.title = title.trim();
    return todo;
  }

  tag(id, ...tags) {
    const todo = this.get(id);
    tags.forEach((tag) => todo.tags.add(tag.toLowerCase()));
    return todo;
  }

  filter({ done, tag, priority, overdue } = {}) {
    return [...this.items.values()].filter((todo) => {
      if (done !== undefined && todo.done !== done) return false;
      if (tag && !todo.tags.has(tag)) return false;
      if (priority && todo.priority !== priority) return false;
      if (overdue && !todo.isOverdue()) return false;
      return true;
    });
  }

  sorted() {
    return [...this.items.values()].sort((a, b) => {
      if (a.done !== b.done) return a.done ? 1 : -1;
      const byPriority = PRIORITIES.indexOf(b.priority) - PRIORITIES.indexOf(a.priority);
      if (byPriority !== 0) return byPriority;
      if (a.due && b.due) return a.due - b.due;
      if (a.due || b.due) return a.due ? -1 : 1;
      return a.id - b.id;
    });
  }

  clearCompleted() {
    let removed = 0;
    for (const [id, todo] of this.items) {
      if (todo.done) {
        this.items.delete(id);
        removed++;
      }
    }
    return removed;
  }

  stats() {
    const all = [...this.items.values()];
    const done = all.filter((todo) => todo.done).length;
    return {
      total: all.length,
      done,
      open: all.length - done,
      overdue: all.filter((todo) => todo.isOverdue()).length,
    };
  }

  format() {
    return this.sorted()
      .map((todo) => {
        const box = todo.done ? '[x]' : '[ ]';
        const due = todo.due ? ` (due ${todo.due.toISOString().slice(0, 10)})` : '';
        const tags = todo.tags.size ? ` #${[...todo.tags].join(' #')}` : '';
        return `${box} ${todo.id}. ${todo.title}${due}${tags}`;
      })
      .join('\n');
  }

  toJSON() {
    return [...this.items.values()].map((todo) => todo.toJSON());
  }
}

module.exports = { Todo, TodoList, PRIORITIES };
