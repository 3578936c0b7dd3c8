-- Inline completion for Neovim 0.10/0.11, which have no vim.lsp.inline_completion:
-- requests textDocument/inlineCompletion while typing (debounced), shows the first item as
-- ghost text (an inline extmark plus virtual lines), and accepts, dismisses or cycles on keys.
-- Text typed that matches the start of the suggestion keeps it (no new request).

local M = {}

local ns = vim.api.nvim_create_namespace("santa_lsp.ghost")
local TRIGGER_INVOKED, TRIGGER_AUTOMATIC = 1, 2

--- Per-buffer state: client_id, opts, timer, request_id, items, index, tick (changedtick when
--- shown), pos ({row, col} 0-based byte cursor when shown), extmark.
local states = {}

local partial = require("santa_lsp.partial")
local cursor = partial.cursor

local function lsp()
  return require("santa_lsp")
end

local function in_insert()
  return vim.api.nvim_get_mode().mode:sub(1, 1) == "i"
end

--- Byte column of an LSP position in `bufnr`.
local function byte_col(bufnr, pos, encoding)
  if encoding == "utf-8" then
    return pos.character
  end
  local util = vim.lsp.util
  if util._get_line_byte_from_position then
    local ok, col = pcall(util._get_line_byte_from_position, bufnr, pos, encoding)
    if ok then
      return col
    end
  end
  return pos.character
end

--- Plain text of an insertText (string or snippet StringValue).
local function item_text(item)
  local t = item.insertText
  if type(t) == "table" then
    local v = t.value or ""
    v = v:gsub("%${%d+:([^}]*)}", "%1"):gsub("%${%d+}", ""):gsub("%$%d+", "")
    return v, true
  end
  return type(t) == "string" and t or "", false
end

--- Normalises a response into items with byte ranges: {text, snippet, raw, range={sr, sc, er, ec},
--- right}; `right`: bytes right of the cursor the item replaces (characters the editor auto-closed).
local function normalise(bufnr, result, encoding, row, col)
  local raw_items = result and (result.items or result) or {}
  local items = {}
  for _, raw in ipairs(raw_items) do
    local text, snippet = item_text(raw)
    local range = { row, col, row, col }
    if raw.range then
      local s, e = raw.range.start, raw.range["end"]
      range = { s.line, byte_col(bufnr, s, encoding), e.line, byte_col(bufnr, e, encoding) }
    end
    if text ~= "" then
      local right = (range[3] == row and range[4] > col) and range[4] - col or 0
      items[#items + 1] = { text = text, snippet = snippet, raw = raw, range = range, right = right }
    end
  end
  return items
end

--- The part of the current item still to show at the cursor, or nil when the buffer no longer
--- agrees with it.
local function remainder(bufnr, state)
  local item = state.items and state.items[state.index]
  if not item then
    return nil
  end
  return partial.rest(bufnr, item.text, { item.range[1], item.range[2] })
end

local function clear_mark(bufnr, state)
  if state.extmark then
    pcall(vim.api.nvim_buf_del_extmark, bufnr, ns, state.extmark)
    state.extmark = nil
  end
end

local function cancel(state)
  if state.timer then
    state.timer:stop()
  end
  if state.request_id then
    local client = vim.lsp.get_client_by_id(state.client_id)
    if client then
      pcall(lsp()._cancel, client, state.request_id)
    end
    state.request_id = nil
  end
end

--- Removes the ghost text and forgets the items.
function M.dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local state = states[bufnr]
  if not state then
    return
  end
  cancel(state)
  clear_mark(bufnr, state)
  state.items, state.index, state.pos = nil, nil, nil
end

function M.dismiss_all()
  for bufnr in pairs(states) do
    M.dismiss(bufnr)
  end
end

--- Draws the remainder of the current item at the cursor. Returns false when nothing to show.
local function render(bufnr, state)
  clear_mark(bufnr, state)
  local rest = remainder(bufnr, state)
  if not rest then
    return false
  end
  local row, col = cursor()
  -- A range that ends right of the cursor rewrites characters the editor auto-closed there
  -- (docs/protocol.md): do not draw them twice. They stay right of the cursor while the user
  -- types or accepts part of the item.
  local replaced = partial.replaced(bufnr, state.items[state.index].right)
  if replaced ~= "" and not rest:find("\n", 1, true) and rest:sub(-#replaced) == replaced then
    rest = rest:sub(1, #rest - #replaced)
  end
  local lines = vim.split(rest, "\n", { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], "SantaLspGhost" } }
  end
  local first = lines[1]
  local mark = {
    virt_text = { { first, "SantaLspGhost" } },
    virt_text_pos = "inline",
    hl_mode = "combine",
  }
  if #virt_lines > 0 then
    mark.virt_lines = virt_lines
  end
  state.extmark = vim.api.nvim_buf_set_extmark(bufnr, ns, row, col, mark)
  state.pos = { row, col }
  state.tick = vim.api.nvim_buf_get_changedtick(bufnr)
  return true
end

--- Sends textDocument/inlineCompletion for the cursor position.
function M.request(bufnr, trigger_kind)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local state = states[bufnr]
  if not state or not lsp().enabled_for(bufnr) then
    return
  end
  local client = vim.lsp.get_client_by_id(state.client_id)
  if not client or bufnr ~= vim.api.nvim_get_current_buf() then
    return
  end
  cancel(state)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = trigger_kind or TRIGGER_AUTOMATIC }
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local row, col = cursor()
  local ok, id
  ok, id = lsp()._request(client, "textDocument/inlineCompletion", params, function(err, result)
    if state.request_id == id then
      state.request_id = nil
    end
    if err or not vim.api.nvim_buf_is_valid(bufnr) then
      return
    end
    -- Stale: the buffer changed or the cursor moved since the request.
    if vim.api.nvim_buf_get_changedtick(bufnr) ~= tick or bufnr ~= vim.api.nvim_get_current_buf() then
      return
    end
    local r, c = cursor()
    if r ~= row or c ~= col or not in_insert() then
      return
    end
    local items = normalise(bufnr, result, client.offset_encoding, row, col)
    clear_mark(bufnr, state)
    state.items, state.index = items, 1
    state.last_result = result
    if #items == 0 or not render(bufnr, state) then
      state.items, state.index = nil, nil
    end
  end, bufnr)
  if ok then
    state.request_id = id
  end
end

local function schedule_request(bufnr, state)
  cancel(state)
  if not state.opts.auto_trigger then
    return
  end
  state.timer = state.timer or vim.uv.new_timer()
  state.timer:start(
    state.opts.debounce_ms or 120,
    0,
    vim.schedule_wrap(function()
      if vim.api.nvim_buf_is_valid(bufnr) and in_insert() and bufnr == vim.api.nvim_get_current_buf() then
        M.request(bufnr, TRIGGER_AUTOMATIC)
      end
    end)
  )
end

local function on_text_changed(bufnr)
  local state = states[bufnr]
  if not state then
    return
  end
  if state.items and render(bufnr, state) then
    return -- typed ahead into the suggestion: keep it
  end
  M.dismiss(bufnr)
  schedule_request(bufnr, state)
end

--- Whether a suggestion is shown in `bufnr`.
function M.visible(bufnr)
  local state = states[bufnr or vim.api.nvim_get_current_buf()]
  return state ~= nil and state.extmark ~= nil
end

--- The suggestion shown: {text = full item text, rest = text still to insert, item = raw item}.
function M.current(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local state = states[bufnr]
  if not state or not state.extmark then
    return nil
  end
  local item = state.items[state.index]
  return { text = item.text, rest = remainder(bufnr, state), item = item.raw, index = state.index, count = #state.items }
end

local function execute_accept_command(state, item)
  local command = item.raw.command
  if type(command) ~= "table" or not command.command then
    return
  end
  local client = vim.lsp.get_client_by_id(state.client_id)
  if client then
    lsp()._request(client, "workspace/executeCommand", {
      command = command.command,
      arguments = command.arguments,
    }, function() end)
  end
end

--- Inserts the whole suggestion. Returns true if there was one.
function M.accept(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local state = states[bufnr]
  if not M.visible(bufnr) then
    return false
  end
  local item = state.items[state.index]
  local sr, sc = item.range[1], item.range[2]
  -- From the item's start through the cursor (the user may have typed into the suggestion) and
  -- the auto-closed characters it replaces, still right of the cursor.
  local row, col = cursor()
  local right = item.right or 0
  M.dismiss(bufnr)
  if item.snippet and vim.snippet then
    vim.api.nvim_buf_set_text(bufnr, sr, sc, row, col + right, { "" })
    vim.api.nvim_win_set_cursor(0, { sr + 1, sc })
    vim.snippet.expand(item.raw.insertText.value)
  else
    partial.replace(bufnr, sr, sc, row, col + right, item.text)
  end
  execute_accept_command(state, item)
  return true
end

--- Inserts the next word ("word") or line ("line") of the suggestion; the rest stays shown (the
--- typed-ahead path draws it). Returns true if there was a suggestion.
function M.accept_part(bufnr, what)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local state = states[bufnr]
  if not M.visible(bufnr) then
    return false
  end
  local item = state.items[state.index]
  if item.snippet then
    return M.accept(bufnr)
  end
  local done = partial.accept_next(bufnr, item.text, { item.range[1], item.range[2] }, item.right, what)
  if done == "whole" then
    M.dismiss(bufnr)
    execute_accept_command(state, item)
  end
  return done ~= nil
end

--- Shows the next (+1) or previous (-1) item; asks the server when nothing is shown.
function M.cycle(bufnr, step)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local state = states[bufnr]
  if not state then
    return
  end
  if not state.items or #state.items == 0 then
    M.request(bufnr, TRIGGER_INVOKED)
    return
  end
  state.index = (state.index - 1 + step) % #state.items + 1
  render(bufnr, state)
end

local function feed(key)
  vim.api.nvim_feedkeys(vim.keycode(key), "n", false)
end

local function set_keymaps(bufnr, keys)
  local function map(lhs, fn, desc)
    if lhs then
      vim.keymap.set("i", lhs, fn, { buffer = bufnr, desc = "santa_lsp: " .. desc })
    end
  end
  map(keys.accept, function()
    if not M.accept(bufnr) then
      feed(keys.accept)
    end
  end, "accept the suggestion")
  map(keys.accept_word, function()
    if not M.accept_part(bufnr, "word") then
      feed(keys.accept_word)
    end
  end, "accept the next word of the suggestion")
  map(keys.accept_line, function()
    if not M.accept_part(bufnr, "line") then
      feed(keys.accept_line)
    end
  end, "accept the next line of the suggestion")
  map(keys.dismiss, function()
    if M.visible(bufnr) then
      M.dismiss(bufnr)
    else
      feed(keys.dismiss)
    end
  end, "dismiss the suggestion")
  map(keys.next, function()
    M.cycle(bufnr, 1)
  end, "next suggestion")
  map(keys.prev, function()
    M.cycle(bufnr, -1)
  end, "previous suggestion")
  map(keys.trigger, function()
    M.request(bufnr, TRIGGER_INVOKED)
  end, "ask for a suggestion")
end

function M.detach(bufnr)
  local state = states[bufnr]
  if not state then
    return
  end
  M.dismiss(bufnr)
  if state.timer then
    state.timer:close()
  end
  pcall(vim.api.nvim_del_augroup_by_id, state.augroup)
  states[bufnr] = nil
end

--- Starts ghost-text completion in `bufnr` for the client `client_id`.
function M.attach(bufnr, client_id, opts)
  if states[bufnr] then
    states[bufnr].client_id = client_id
    return
  end
  local group = vim.api.nvim_create_augroup("santa_lsp.ghost." .. bufnr, { clear = true })
  local state = { client_id = client_id, opts = opts, augroup = group }
  states[bufnr] = state
  vim.api.nvim_create_autocmd({ "TextChangedI", "TextChangedP" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      on_text_changed(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd("CursorMovedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      -- Typing moves the cursor too; TextChangedI handles that case.
      if not state.pos or vim.api.nvim_buf_get_changedtick(bufnr) ~= state.tick then
        return
      end
      local row, col = cursor()
      if row ~= state.pos[1] or col ~= state.pos[2] then
        M.dismiss(bufnr)
      end
    end,
  })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd("LspDetach", {
    group = group,
    buffer = bufnr,
    callback = function(ev)
      if ev.data and ev.data.client_id == state.client_id then
        M.detach(bufnr)
      end
    end,
  })
  vim.api.nvim_create_autocmd("BufUnload", {
    group = group,
    buffer = bufnr,
    callback = function()
      M.detach(bufnr)
    end,
  })
  set_keymaps(bufnr, opts.keymaps or {})
end

M._namespace = ns
M._states = states

return M
