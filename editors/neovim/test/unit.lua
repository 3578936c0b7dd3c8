-- Unit tests of the plugin that need Neovim but no server:
--   nvim --headless --clean -n -i NONE --cmd "set rtp^=editors/neovim" -l editors/neovim/test/unit.lua
-- Prints one line per test and exits non-zero on a failure.

local passed, failed = 0, 0
local function test(name, fn)
  local ok, err = pcall(fn)
  if ok then
    passed = passed + 1
    print("ok   " .. name)
  else
    failed = failed + 1
    print("FAIL " .. name .. ": " .. tostring(err))
  end
end
local function eq(a, b, what)
  if not vim.deep_equal(a, b) then
    error(("%s: expected %s, got %s"):format(what or "value", vim.inspect(b), vim.inspect(a)), 2)
  end
end

local warnings = {}
vim.notify = function(msg)
  table.insert(warnings, msg)
end

local santa = require("santa_lsp")
-- The tests place the cursor past the end of lines, as in insert mode.
vim.o.virtualedit = "onemore"
local tmp = vim.fn.tempname()
vim.fn.mkdir(tmp .. "/venv/bin", "p")

test("setup keeps protocol keys as server settings and warns about unknown or mistyped ones", function()
  warnings = {}
  santa.setup({
    model = "/models/tiny",
    device = "cpu",
    maxNewTokens = 32,
    timeBudgetMs = "fast",
    disabledLanguages = { "markdown" },
    crossFile = false,
    bogus = 1,
    debounce_ms = 50,
    cmd = { "/bin/santa-lsp", "--log-level", "DEBUG" },
  })
  eq(santa.settings, {
    model = "/models/tiny",
    device = "cpu",
    maxNewTokens = 32,
    disabledLanguages = { "markdown" },
    crossFile = false,
  }, "settings")
  eq(santa.config.debounce_ms, 50, "plugin option")
  eq(santa.config.keymaps.accept, "<Tab>", "default keymap kept")
  eq(#warnings, 2, "warnings " .. vim.inspect(warnings))
end)

test("server settings: enabled defaults to true, ~ expanded", function()
  santa.settings = { model = "~/m" }
  local s = santa.server_settings()
  eq(s.enabled, true, "enabled")
  eq(s.model, vim.fn.expand("~/m"), "model")
end)

test("command: explicit cmd, then the script next to python, then python -m, then PATH", function()
  local settings = { model = "/m", device = "cuda:1", dtype = "bf16" }
  eq(
    santa.command({ cmd = { "/x/santa-lsp", "--log-level", "DEBUG" } }, settings),
    { "/x/santa-lsp", "--log-level", "DEBUG", "--model", "/m", "--device", "cuda:1", "--dtype", "bf16" },
    "cmd"
  )
  eq(santa.command({ cmd = "/x/santa-lsp" }, {}), { "/x/santa-lsp" }, "cmd string")
  local python = tmp .. "/venv/bin/python"
  eq(santa.command({ python = python }, {}), { python, "-m", "santa_lsp" }, "python -m")
  local script = tmp .. "/venv/bin/santa-lsp"
  vim.fn.writefile({ "#!/bin/sh" }, script)
  vim.fn.setfperm(script, "rwxr-xr-x")
  eq(santa.command({ python = python }, {}), { script }, "script next to python")
  eq(santa.command({}, {}), { "santa-lsp" }, "PATH")
end)

test("enabled_for: master switch and disabledLanguages", function()
  local buf = vim.api.nvim_create_buf(true, false)
  vim.bo[buf].filetype = "markdown"
  santa.settings = { disabledLanguages = { "markdown" } }
  eq(santa.enabled_for(buf), false, "markdown off")
  vim.bo[buf].filetype = "python"
  eq(santa.enabled_for(buf), true, "python on")
  santa.settings.enabled = false
  eq(santa.enabled_for(buf), false, "master switch")
  eq(santa.statusline(), "santa: off", "statusline")
end)

test("inline mode: native where vim.lsp.inline_completion exists, unless auto_trigger is off", function()
  santa.config.inline = "auto"
  local native = santa.native_available()
  eq(santa.inline_mode(), native and "native" or "ghost", "auto")
  santa.config.auto_trigger = false
  eq(santa.inline_mode(), "ghost", "only the ghost text waits for the trigger key")
  santa.config.inline = "native"
  eq(santa.inline_mode(), native and "native" or "ghost", "native asked for")
  santa.config.auto_trigger = true
  santa.config.inline = "ghost"
  eq(santa.inline_mode(), "ghost", "forced ghost")
  santa.config.inline = false
  eq(santa.inline_mode(), nil, "off")
  santa.config.inline = "auto"
end)

test("ghost text: shows, follows typed-ahead text, accepts the whole item, runs no request without a client", function()
  local ghost = require("santa_lsp.ghost")
  local buf = vim.api.nvim_create_buf(true, false)
  vim.api.nvim_set_current_buf(buf)
  vim.api.nvim_buf_set_lines(buf, 0, -1, true, { "def f(x):", "    ret" })
  vim.api.nvim_win_set_cursor(0, { 2, 7 })
  santa.settings = {}
  ghost.attach(buf, -1, santa.config)
  local state = ghost._states[buf]
  -- An item as the server would send it, replacing "ret" (range starts before the cursor).
  state.items = {
    { text = "return x + 1\n    pass", raw = { command = nil }, range = { 1, 4, 1, 7 } },
  }
  state.index = 1
  -- Render through the typed-ahead path.
  vim.api.nvim_exec_autocmds("TextChangedI", { buffer = buf })
  assert(ghost.visible(buf), "ghost shown")
  eq(ghost.current(buf).rest, "urn x + 1\n    pass", "rest after the typed prefix")
  local marks = vim.api.nvim_buf_get_extmarks(buf, ghost._namespace, 0, -1, { details = true })
  eq(marks[1][4].virt_text[1][1], "urn x + 1", "inline part")
  eq(marks[1][4].virt_lines[1][1][1], "    pass", "virtual line")
  -- Typing a matching character keeps the suggestion; a different one drops it.
  vim.api.nvim_buf_set_text(buf, 1, 7, 1, 7, { "u" })
  vim.api.nvim_win_set_cursor(0, { 2, 8 })
  vim.api.nvim_exec_autocmds("TextChangedI", { buffer = buf })
  eq(ghost.current(buf).rest, "rn x + 1\n    pass", "typed ahead")
  -- Accept: the range start..cursor is replaced by the whole text.
  assert(ghost.accept(buf), "accepted")
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, true), { "def f(x):", "    return x + 1", "    pass" }, "buffer")
  eq(vim.api.nvim_win_get_cursor(0), { 3, 8 }, "cursor after the text")
  eq(ghost.visible(buf), false, "nothing shown after accept")
  eq(ghost.accept(buf), false, "nothing to accept")
  ghost.detach(buf)
end)

test("ghost text: word and line partial accept leave the rest shown", function()
  local ghost = require("santa_lsp.ghost")
  local buf = vim.api.nvim_create_buf(true, false)
  vim.api.nvim_set_current_buf(buf)
  vim.api.nvim_buf_set_lines(buf, 0, -1, true, { "x = " })
  vim.api.nvim_win_set_cursor(0, { 1, 4 })
  ghost.attach(buf, -1, santa.config)
  local state = ghost._states[buf]
  state.items = { { text = "foo(bar)\ny = 2", raw = {}, range = { 0, 4, 0, 4 } } }
  state.index = 1
  vim.api.nvim_exec_autocmds("TextChangedI", { buffer = buf })
  assert(ghost.accept_part(buf, "word"), "word")
  vim.api.nvim_exec_autocmds("TextChangedI", { buffer = buf })
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, true), { "x = foo" }, "after word")
  eq(ghost.current(buf).rest, "(bar)\ny = 2", "rest after word")
  assert(ghost.accept_part(buf, "line"), "line")
  vim.api.nvim_exec_autocmds("TextChangedI", { buffer = buf })
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, true), { "x = foo(bar)", "" }, "after line")
  eq(ghost.current(buf).rest, "y = 2", "rest after line")
  ghost.dismiss(buf)
  eq(ghost.visible(buf), false, "dismissed")
  ghost.detach(buf)
end)

test("ghost text: a range over auto-closed characters is drawn once and replaced on accept", function()
  local ghost = require("santa_lsp.ghost")
  local buf = vim.api.nvim_create_buf(true, false)
  vim.api.nvim_set_current_buf(buf)
  vim.api.nvim_buf_set_lines(buf, 0, -1, true, { "print()" })
  vim.api.nvim_win_set_cursor(0, { 1, 6 })
  ghost.attach(buf, -1, santa.config)
  local state = ghost._states[buf]
  state.items = { { text = "x + 1)", raw = {}, range = { 0, 6, 0, 7 }, right = 1 } }
  state.index = 1
  vim.api.nvim_exec_autocmds("TextChangedI", { buffer = buf })
  local marks = vim.api.nvim_buf_get_extmarks(buf, ghost._namespace, 0, -1, { details = true })
  eq(marks[1][4].virt_text[1][1], "x + 1", "drawn without the closing paren")
  assert(ghost.accept(buf), "accepted")
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, true), { "print(x + 1)" }, "paren replaced, not doubled")
  -- Word by word: the paren stays right of the cursor and is replaced by the last part only.
  vim.api.nvim_buf_set_lines(buf, 0, -1, true, { "print()" })
  vim.api.nvim_win_set_cursor(0, { 1, 6 })
  state.items, state.index = { { text = "x + 1)", raw = {}, range = { 0, 6, 0, 7 }, right = 1 } }, 1
  vim.api.nvim_exec_autocmds("TextChangedI", { buffer = buf })
  for _, want in ipairs({ "print(x)", "print(x +)", "print(x + 1)" }) do
    assert(ghost.accept_part(buf, "word"), "word")
    eq(vim.api.nvim_buf_get_lines(buf, 0, -1, true), { want }, "word by word")
    vim.api.nvim_exec_autocmds("TextChangedI", { buffer = buf })
  end
  eq(vim.api.nvim_win_get_cursor(0), { 1, 12 }, "cursor after the paren")
  eq(ghost.visible(buf), false, "all of it accepted")
  ghost.detach(buf)
end)

--- A new current buffer holding `lines`, the cursor at `cursor`, for the tests of Neovim 0.12's
--- inline completion; nil (the test skipped) on an older Neovim.
local function native_buffer(lines, cursor)
  if not santa.native_available() then
    print("     (skipped: no vim.lsp.inline_completion, Neovim < 0.12)")
    return nil
  end
  local buf = vim.api.nvim_create_buf(true, false)
  vim.api.nvim_set_current_buf(buf)
  vim.api.nvim_buf_set_lines(buf, 0, -1, true, lines)
  vim.api.nvim_win_set_cursor(0, cursor)
  return buf
end

test("native accept (0.12): Neovim's item, then the rest kept, word by word over auto-closed characters", function()
  local buf = native_buffer({ "print()" }, { 1, 6 })
  if not buf then
    return
  end
  local native = require("santa_lsp.native")
  -- The item as Neovim hands it to on_accept, its LSP range made a vim.Range the way Neovim does.
  local lsp_range = { start = { line = 0, character = 6 }, ["end"] = { line = 0, character = 7 } }
  local item = { insert_text = "x + 1)", range = vim.range.lsp(buf, lsp_range, "utf-16"), client_id = -1 }
  eq(native._on_accept(buf, "word")(item), nil, "Neovim is left nothing to insert")
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, true), { "print(x)" }, "a word")
  -- Nothing is shown until Neovim asks again: the keys take the rest of the item being accepted.
  assert(native.accept(buf, "word"), "the next word")
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, true), { "print(x +)" }, "the paren stays right of the cursor")
  assert(native.accept(buf, "all"), "the rest")
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, true), { "print(x + 1)" }, "paren replaced, not doubled")
  eq(vim.api.nvim_win_get_cursor(0), { 1, 12 }, "cursor after the paren")
  eq(native.accept(buf, "word"), false, "all of it accepted: the key keeps its meaning")

  vim.api.nvim_buf_set_lines(buf, 0, -1, true, { "x = " })
  vim.api.nvim_win_set_cursor(0, { 1, 4 })
  native._on_accept(buf, "line")({ insert_text = "f(a)\ny = 2", client_id = -1 }) -- no range: at the cursor
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, true), { "x = f(a)", "" }, "a line and its break")
  eq(vim.api.nvim_win_get_cursor(0), { 2, 0 }, "cursor on the next line")
  vim.api.nvim_buf_set_text(buf, 1, 0, 1, 0, { "z" }) -- typed something else
  vim.api.nvim_win_set_cursor(0, { 2, 1 })
  eq(native.accept(buf, "word"), false, "the buffer no longer agrees with the item")
end)

test("native dismiss (0.12): forgets the item being accepted; false when there is nothing to dismiss", function()
  local buf = native_buffer({ "x = " }, { 1, 4 })
  if not buf then
    return
  end
  local native = require("santa_lsp.native")
  native._on_accept(buf, "word")({ insert_text = "f(a) + 1", client_id = -1 })
  eq(native.dismiss(buf), true, "the item being accepted")
  eq(native.accept(buf, "word"), false, "forgotten: the key keeps its meaning")
  eq(vim.api.nvim_buf_get_lines(buf, 0, -1, true), { "x = f" }, "nothing more inserted")
  eq(native.dismiss(buf), false, "nothing shown or being accepted: the key keeps its meaning")
end)

test("partial accept: the next word with its blanks, a run of punctuation, a line with its break", function()
  local partial = require("santa_lsp.partial")
  eq(partial.next_part("  foo(bar)", "word"), "  foo", "word")
  eq(partial.next_part("(bar)", "word"), "(", "punctuation")
  eq(partial.next_part("))\n  x", "word"), "))", "punctuation run")
  eq(partial.next_part("\n    pass", "word"), "\n    pass", "a word on the next line")
  eq(partial.next_part("a = 1\nb = 2", "line"), "a = 1\n", "line")
  eq(partial.next_part("a = 1", "line"), "a = 1", "last line")
end)

test("update: live keys merge into the settings; clearing the model removes it", function()
  santa.setup({ cmd = { "/nonexistent/santa-lsp" }, model = "/m", maxNewTokens = 8 })
  santa.update({ maxNewTokens = 16, stop = { "\n\n" } })
  eq(santa.settings, { model = "/m", maxNewTokens = 16, stop = { "\n\n" } }, "merged")
  santa.update({ model = "" })
  eq(santa.settings.model, nil, "model cleared")
  eq(santa.command(), { "/nonexistent/santa-lsp" }, "no --model any more")
end)

test("toggle flips the master switch", function()
  santa.settings.enabled = nil
  eq(santa.toggle(), false, "off")
  eq(santa.enabled_for(0), false, "no completions")
  eq(santa.toggle(), true, "on again")
end)

test(":checkhealth santa_lsp runs", function()
  santa.setup({ cmd = { "/nonexistent/santa-lsp" }, model = tmp })
  vim.cmd("checkhealth santa_lsp")
  local text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), "\n")
  assert(text:find("setup%(%) called"), text)
  assert(text:find("not executable"), text)
  assert(text:find("config.json"), text)
end)

print(("%d passed, %d failed"):format(passed, failed))
vim.cmd(failed == 0 and "qa!" or "cquit 1")
