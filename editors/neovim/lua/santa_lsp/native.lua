-- Inline completion on Neovim 0.12+: Neovim's own vim.lsp.inline_completion asks the server while
-- typing, draws the item and cycles; this module turns it on for the buffers the server attaches
-- to, maps the keys, and accepts an item in whole or in part through get()'s on_accept.
--
-- Neovim hides the item on accepting it, in whole or in part, and asks again once its debounce
-- has passed (200 ms in 0.12.4); the server's typed-ahead cache answers with the rest. Keys
-- pressed before then take the rest of the item being accepted, which is kept here.
--
-- Neovim 0.12 has no call to ask now, nor to drop a request it is about to make: the trigger and
-- dismiss keys run the autocommands its inline completion asks on and drops its item on.

local M = {}

local partial = require("santa_lsp.partial")

--- Per buffer, the item being accepted part by part: {text, start = {row, col}, right = bytes
--- right of the cursor it replaces, client_id, command}.
local accepting = {}
--- Per buffer, whether an accept Neovim has scheduled (get() applies on the next loop) is to come.
local scheduled = {}

--- An item of Neovim's as kept here. Its range is a vim.Range, read through to_extmark()
--- (0-based rows and byte columns); it starts at the cursor without one.
local function kept_item(item)
  local text = type(item.insert_text) == "string" and item.insert_text or item.insert_text.value
  local row, col = partial.cursor()
  local start, right = { row, col }, 0
  if item.range then
    local sr, sc, er, ec = item.range:to_extmark()
    start = { sr, sc }
    right = (er == row and ec > col) and ec - col or 0
  end
  return { text = text, start = start, right = right, client_id = item.client_id, command = item.command }
end

--- Accepts the next "word", "line" or "all" of a kept item at the cursor; the item's command goes
--- to the server once all of it is in. False when the buffer no longer agrees with the item.
function M._accept_kept(bufnr, item, what)
  local done = partial.accept_next(bufnr, item.text, item.start, item.right, what)
  accepting[bufnr] = done == "part" and item or nil
  local client = vim.lsp.get_client_by_id(item.client_id)
  if done == "whole" and item.command and client then
    client:exec_cmd(item.command, { bufnr = bufnr })
  end
  return done ~= nil
end

--- get()'s on_accept: this module inserts, Neovim does not (nil).
function M._on_accept(bufnr, what)
  return function(item)
    M._accept_kept(bufnr, kept_item(item), what)
  end
end

local function accept_accepting(bufnr, what)
  local item = accepting[bufnr]
  return item ~= nil and M._accept_kept(bufnr, item, what)
end

--- Accepts "word", "line" or "all" of the item shown, else of the item being accepted. Returns
--- false when there is neither.
function M.accept(bufnr, what)
  if scheduled[bufnr] then
    -- A key came before Neovim applied the previous one: this one follows it.
    vim.schedule(function()
      accept_accepting(bufnr, what)
    end)
    return true
  end
  if vim.lsp.inline_completion.get({ bufnr = bufnr, on_accept = M._on_accept(bufnr, what) }) then
    scheduled[bufnr] = true
    vim.schedule(function() -- runs after Neovim's apply, scheduled first
      scheduled[bufnr] = nil
    end)
    return true
  end
  return accept_accepting(bufnr, what)
end

--- Runs `event`'s autocommands of Neovim's inline completion in `bufnr`, and no one else's: it
--- asks on CursorMovedI (after its debounce) and drops its item and requests on InsertLeave. The
--- group's name is Neovim's own (vim/lsp/_capability.lua); there is none while it is off.
local function run_neovim_autocmds(bufnr, event)
  local group = "nvim.lsp.inline_completion:" .. bufnr
  pcall(vim.api.nvim_exec_autocmds, event, { group = group, buffer = bufnr, modeline = false })
end

--- Asks the server now: Neovim sends the request once its debounce has passed, and draws the answer.
function M.trigger(bufnr)
  run_neovim_autocmds(bufnr, "CursorMovedI")
end

--- Hides the item shown and forgets the one being accepted part by part. Returns false when there
--- was neither.
function M.dismiss(bufnr)
  -- get() hides the item, and inserts nothing when on_accept returns nil.
  local shown = vim.lsp.inline_completion.get({ bufnr = bufnr, on_accept = function() end })
  local was_accepting = accepting[bufnr] ~= nil
  accepting[bufnr] = nil
  if was_accepting and not shown then
    run_neovim_autocmds(bufnr, "InsertLeave") -- its rest is not drawn yet: drop the request for it
  end
  return shown or was_accepting
end

local function set_keymaps(bufnr, keys)
  local function map(lhs, fn, desc)
    if lhs then
      vim.keymap.set("i", lhs, function()
        if not fn() then -- nothing shown: the key keeps its own meaning
          vim.api.nvim_feedkeys(vim.keycode(lhs), "n", false)
        end
      end, { buffer = bufnr, desc = "santa_lsp: " .. desc })
    end
  end
  map(keys.accept, function()
    return M.accept(bufnr, "all")
  end, "accept the inline completion")
  map(keys.accept_word, function()
    return M.accept(bufnr, "word")
  end, "accept the next word of the inline completion")
  map(keys.accept_line, function()
    return M.accept(bufnr, "line")
  end, "accept the next line of the inline completion")
  map(keys.dismiss, function()
    return M.dismiss(bufnr)
  end, "dismiss the inline completion")
  map(keys.next, function()
    vim.lsp.inline_completion.select({ bufnr = bufnr, count = 1 })
    return true
  end, "next inline completion")
  map(keys.prev, function()
    vim.lsp.inline_completion.select({ bufnr = bufnr, count = -1 })
    return true
  end, "previous inline completion")
  map(keys.trigger, function()
    M.trigger(bufnr)
    return true
  end, "ask for an inline completion")
end

--- Turns Neovim's inline completion on in `bufnr` and maps the keys. Per buffer: Neovim runs it
--- for a client and a buffer when both are enabled, and a buffer is not until told (a client
--- filter alone would mark the client and leave the buffer off: is_enabled() false, and the
--- client never detached from the buffer when it stopped).
function M.attach(bufnr, opts)
  vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
  set_keymaps(bufnr, opts.keymaps or {})
  local group = vim.api.nvim_create_augroup("santa_lsp.native." .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufUnload" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      accepting[bufnr] = nil
    end,
  })
end

--- Turns it off or on for the client `client_id` only: another server's inline completion in the
--- same buffers stays as it is.
function M.enable_client(client_id, on)
  vim.lsp.inline_completion.enable(on, { client_id = client_id })
end

return M
