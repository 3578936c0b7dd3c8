-- End-to-end driver for a real, headless Neovim: opens a file, types, waits for the server's
-- inline completions (three candidates) to show, cycles through them, asks the server directly
-- for the same completions, accepts the second one a word, a line, then a word and the rest in
-- one input, leaves insert mode, enters it elsewhere (santa/prefill), yanks two lines
-- (santa/copied), dismisses an item, asks for it again with the trigger key and dismisses it after
-- a word accepted, then restarts with auto_trigger off and types, triggers and types again, and
-- writes what happened as JSON. The same steps run on the plugin's ghost text (Neovim 0.10/0.11)
-- and on Neovim 0.12's native inline completion; on 0.12 it also toggles completions and restarts
-- the server.
-- Run by tests/test_editor_neovim.py; parameters come in environment variables:
--   SANTA_E2E_CMD     JSON list: the server command line
--   SANTA_E2E_MODEL   model directory
--   SANTA_E2E_FILE    file to open (the cursor goes to the end of its last line)
--   SANTA_E2E_TYPE    text typed there before waiting for a suggestion
--   SANTA_E2E_RESULT  where the JSON goes
--   SANTA_E2E_TIMEOUT seconds allowed for each wait (default 120)

local env = vim.env
local result = { status_seen = {} }
local timeout_ms = tonumber(env.SANTA_E2E_TIMEOUT or "120") * 1000

local function finish(err)
  result.error = err
  local f = assert(io.open(env.SANTA_E2E_RESULT, "w"))
  f:write(vim.json.encode(result))
  f:close()
  vim.cmd("qa!")
end

local co

local function resume()
  local ok, err = coroutine.resume(co)
  if not ok then
    finish(debug.traceback(co, err))
  elseif coroutine.status(co) == "dead" then
    finish(nil)
  end
end

local function sleep(ms)
  vim.defer_fn(resume, ms)
  coroutine.yield()
end

--- Waits until cond() holds; errors after `ms` (default: the timeout), or returns false then
--- when `soft`.
local function wait_for(what, cond, ms, soft)
  local start = vim.uv.now()
  local santa = require("santa_lsp")
  while not cond() do
    if santa.status.state == "error" then
      error(("server error while waiting for %s: %s"):format(what, santa.status.message))
    end
    if vim.uv.now() - start > (ms or timeout_ms) then
      if soft then
        return false
      end
      error("timed out waiting for " .. what)
    end
    sleep(20)
  end
  result.steps = result.steps or {}
  table.insert(result.steps, { what = what, ms = vim.uv.now() - start })
  return true
end

local function buffer_lines(bufnr)
  return vim.api.nvim_buf_get_lines(bufnr, 0, -1, true)
end

--- The text an inline extmark draws, its virtual lines after line breaks; chunks in the `hint`
--- highlight group (Neovim's "(2/3)" after cycling) are left out and returned on their own.
local function drawn_text(details, hint)
  local lines = { details.virt_text or {}, unpack(details.virt_lines or {}) }
  local texts, hints = {}, {}
  for i, chunks in ipairs(lines) do
    texts[i] = ""
    for _, chunk in ipairs(chunks) do
      if chunk[2] == hint then
        table.insert(hints, chunk[1])
      else
        texts[i] = texts[i] .. chunk[1]
      end
    end
  end
  return table.concat(texts, "\n"), table.concat(hints)
end

--- What is on screen, read the same way for both inline modes: `current(bufnr)` gives
--- {text = the item, drawn = what is drawn at the cursor, hint, index, count, range = {sr, sc, er, ec}}
--- or nil when nothing is shown; `namespace` holds the extmarks.
local function make_view(mode)
  if mode == "native" then
    -- The item and the count are Neovim's own state (private: read only); what is drawn is its extmark.
    local namespace = vim.api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
    local active = vim.lsp._capability.all.inline_completion.active
    return {
      namespace = namespace,
      current = function(bufnr)
        local completor = active[bufnr]
        local item = completor and completor.current
        local marks = vim.api.nvim_buf_get_extmarks(bufnr, namespace, 0, -1, { details = true })
        if not item or #marks == 0 then
          return nil
        end
        local drawn, hint = drawn_text(marks[1][4], "ComplHintMore")
        local pos = vim.api.nvim_win_get_cursor(0)
        local range = item.range and { item.range:to_extmark() } or { pos[1] - 1, pos[2], pos[1] - 1, pos[2] }
        local text = type(item.insert_text) == "string" and item.insert_text or item.insert_text.value
        local count = completor:count_items()
        return { text = text, drawn = drawn, hint = hint, index = item._index, count = count, range = range }
      end,
    }
  end
  local ghost = require("santa_lsp.ghost")
  return {
    namespace = ghost._namespace,
    current = function(bufnr)
      local now = ghost.current(bufnr)
      if not now then
        return nil
      end
      local marks = vim.api.nvim_buf_get_extmarks(bufnr, ghost._namespace, 0, -1, { details = true })
      local drawn = drawn_text(marks[1][4])
      local range = ghost._states[bufnr].items[now.index].range
      return { text = now.text, drawn = drawn, hint = "", index = now.index, count = now.count, range = range }
    end,
  }
end

local function main()
  local santa = require("santa_lsp")
  local partial = require("santa_lsp.partial")
  vim.api.nvim_create_autocmd("User", {
    pattern = "SantaLspStatus",
    callback = function(ev)
      table.insert(result.status_seen, ev.data)
    end,
  })
  santa.setup({
    cmd = vim.json.decode(env.SANTA_E2E_CMD),
    model = env.SANTA_E2E_MODEL,
    device = "cpu",
    maxNewTokens = 12,
    candidates = 3,
    timeBudgetMs = 20000,
    stats = true,
    debounce_ms = 30,
    -- The tiny random model writes junk that the gates would hide: this test is about the plumbing.
    minTokenProb = 0,
    stopRepetition = false,
    syntaxCheck = false,
    tokenHealing = false,
  })
  result.inline_mode = santa.inline_mode()
  result.nvim_version = tostring(vim.version())
  local view = make_view(result.inline_mode)

  vim.cmd.edit(vim.fn.fnameescape(env.SANTA_E2E_FILE))
  local bufnr = vim.api.nvim_get_current_buf()
  wait_for("client attached", function()
    return santa.get_client(bufnr) ~= nil
  end)
  wait_for("server ready", function()
    return santa.status.state == "ready"
  end)
  local client = santa.get_client(bufnr)
  result.inline_provider = client.server_capabilities.inlineCompletionProvider ~= nil
  local function native_state(id) -- whether Neovim has the client's inline completion on in the buffer
    local active = vim.lsp._capability.all.inline_completion.active[bufnr]
    return {
      enabled = vim.lsp.inline_completion.is_enabled({ bufnr = bufnr, client_id = id }),
      clients = active and vim.tbl_keys(active.client_state) or {},
    }
  end
  if result.inline_mode == "native" then
    result.native_attached = native_state(client.id)
  end

  local function shown_now()
    return view.current(bufnr) ~= nil
  end
  local function lines_now()
    return buffer_lines(bufnr)
  end

  -- Types `typed` at the end of the last line, as a user would, until `min_count` candidates are
  -- shown. A random model may have nothing to say at some positions (the server drops empty or
  -- whitespace-only completions): then it types a little more, a few times. Returns what it typed.
  local function type_until_shown(typed, min_count)
    local function shown()
      local now = view.current(bufnr)
      return vim.api.nvim_get_mode().mode == "i" and now ~= nil and now.count >= min_count
    end
    vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(bufnr), 0 })
    vim.api.nvim_input("A" .. typed)
    for _, more in ipairs({ " ", "x", " = ", "(", "a" }) do
      if wait_for("suggestion shown", shown, 15000, true) then
        break
      end
      vim.api.nvim_input(more)
      typed = typed .. more
    end
    wait_for("suggestion shown", shown)
    return typed
  end

  result.typed = type_until_shown(env.SANTA_E2E_TYPE or "", 2) -- two candidates at least, to cycle through
  local first = view.current(bufnr)
  result.shown = { text = first.text, drawn = first.drawn, count = first.count }

  -- Next, previous, next: the second candidate is shown (its own text, drawn at the cursor).
  result.cycled = {}
  for _, key in ipairs({ "<M-]>", "<M-[>", "<M-]>" }) do
    local before = view.current(bufnr).index
    vim.api.nvim_input(key)
    wait_for("cycled with " .. key, function()
      local now = view.current(bufnr)
      return now ~= nil and now.index ~= before
    end)
    local now = view.current(bufnr)
    table.insert(result.cycled, { index = now.index, text = now.text, drawn = now.drawn, hint = now.hint })
  end
  local chosen = view.current(bufnr)
  result.chosen = { index = chosen.index, text = chosen.text }
  result.item_range = chosen.range
  local chosen_start = { chosen.range[1], chosen.range[2] }

  -- The same request straight to the server: the ghost text must be what it answers.
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 1 }
  local direct = client:request_sync("textDocument/inlineCompletion", params, timeout_ms, bufnr)
  result.direct = direct and direct.result
  result.direct_err = direct and direct.err

  result.before = buffer_lines(bufnr)
  local pos = vim.api.nvim_win_get_cursor(0)
  result.cursor = { pos[1] - 1, pos[2] }
  -- Accept the next word, then the next line, each time until the rest of the chosen item is
  -- shown again (native inline completion hides it on accepting and shows the server's answer to
  -- the request that follows, its typed-ahead rest, on the next line too; the ghost text keeps
  -- the item); then the next word and the rest in one go, before anything is shown again.
  local function rest_of_chosen()
    return partial.rest(bufnr, chosen.text, chosen_start)
  end
  result.parts = {}
  for _, keys in ipairs({ { "<C-Right>" }, { "<C-Down>" }, { "<C-Right>", "<Tab>" } }) do
    local rest, now = rest_of_chosen(), view.current(bufnr)
    if rest == nil then
      break -- all of it accepted
    end
    local tick = vim.api.nvim_buf_get_changedtick(bufnr)
    vim.api.nvim_input(table.concat(keys))
    wait_for("accepted with " .. table.concat(keys), function()
      return vim.api.nvim_buf_get_changedtick(bufnr) ~= tick and (#keys == 1 or rest_of_chosen() == nil)
    end, 10000, true) -- the test compares the buffer
    wait_for("the rest shown after " .. table.concat(keys), function()
      local left, shown_now = rest_of_chosen(), view.current(bufnr)
      return left == nil or (shown_now ~= nil and shown_now.drawn == left)
    end, 10000, true)
    pos = vim.api.nvim_win_get_cursor(0)
    local after = view.current(bufnr)
    table.insert(result.parts, {
      keys = keys,
      rest = rest,
      drawn = now and now.drawn, -- what was on screen when the keys came
      lines = buffer_lines(bufnr),
      cursor = { pos[1] - 1, pos[2] },
      rest_after = rest_of_chosen(),
      drawn_after = after and after.drawn,
    })
  end
  result.cursor_after = result.parts[#result.parts].cursor
  vim.api.nvim_input("<Esc>")
  wait_for("normal mode", function()
    return vim.api.nvim_get_mode().mode == "n"
  end)
  result.after = buffer_lines(bufnr)
  result.ghost_after = #vim.api.nvim_buf_get_extmarks(bufnr, view.namespace, 0, -1, {})

  -- Entering insert mode elsewhere has the server prefill the prompt there (santa/prefill).
  local function metric(name)
    local answer = santa.get_client(bufnr):request_sync("santa/metrics", {}, timeout_ms, bufnr)
    return answer and answer.result and answer.result[name] or -1
  end
  sleep(500) -- the request the last accept started has been answered: the server is idle
  result.warm_ups_before = metric("warmUps")
  vim.api.nvim_win_set_cursor(0, { 1, 0 })
  vim.api.nvim_input("i")
  wait_for("warm-up", function()
    return metric("warmUps") > result.warm_ups_before
  end, 10000, true)
  result.warm_ups_after = metric("warmUps")
  vim.api.nvim_input("<Esc>")

  -- With recentEdits on, a yank reaches the server's ring of recent edits (santa/copied).
  santa.update({ recentEdits = true })
  result.copied_before = metric("copiedTexts")
  vim.api.nvim_input("ggyj") -- the first two lines
  wait_for("copied text", function()
    return metric("copiedTexts") > result.copied_before
  end, 10000, true)
  result.copied_after = metric("copiedTexts")

  -- The accept command reached the server (stats are on in setup above).
  sleep(200)
  local stats = client:request_sync("santa/stats", {}, timeout_ms, bufnr)
  result.stats = stats and stats.result
  result.stats_err = stats and stats.err
  result.status_final = santa.status

  -- The dismiss key hides the item (for good: nothing asks again); the trigger key asks again.
  -- After a word accepted, the dismiss key, before the rest is drawn again on 0.12, forgets the
  -- item: the rest is not drawn, and the word key keeps its own meaning (it moves the cursor).
  local keys = {}
  result.keys = keys
  type_until_shown(" ", 1)
  keys.shown = view.current(bufnr).text
  keys.lines = lines_now()
  vim.api.nvim_input("<C-]>")
  keys.dismissed = wait_for("dismissed", function()
    return not shown_now()
  end, 5000, true)
  sleep(800) -- past Neovim's debounce and an answer
  keys.shown_after_dismiss, keys.lines_after_dismiss = shown_now(), lines_now()
  vim.api.nvim_input("<M-\\>")
  if wait_for("shown on the trigger key", shown_now, 10000, true) then
    local item = view.current(bufnr)
    keys.shown_after_trigger = item.text
    local tick = vim.api.nvim_buf_get_changedtick(bufnr)
    vim.api.nvim_input("<C-Right>")
    wait_for("a word accepted", function()
      return vim.api.nvim_buf_get_changedtick(bufnr) ~= tick
    end, 5000, true)
    keys.lines_after_word = lines_now()
    keys.rest_after_word = partial.rest(bufnr, item.text, { item.range[1], item.range[2] })
    vim.api.nvim_input("<C-]>")
    sleep(800)
    keys.shown_after_word_dismiss = shown_now()
    vim.api.nvim_input("<C-Right>")
    sleep(200)
    keys.lines_after_word_key = lines_now()
  end
  vim.api.nvim_input("<Esc>")

  -- Native: toggling turns it off and on for this client; after a restart it runs for the new
  -- client only (a client that stopped and stayed in it made every request fail).
  if result.inline_mode == "native" then
    santa.toggle()
    result.native_off = native_state(client.id)
    santa.toggle()
    result.native_on = native_state(client.id)
    santa.restart()
    wait_for("restarted", function()
      local now = santa.get_client(bufnr)
      return now ~= nil and now.id ~= client.id and #native_state(now.id).clients > 0
    end)
    local restarted = santa.get_client(bufnr)
    result.native_restarted = native_state(restarted.id)
    result.restarted_id = restarted.id
  end

  -- auto_trigger = false (a plugin option: the server restarts): typing asks nothing, the trigger
  -- key does, and typing past what it showed asks nothing again. On 0.12 that is the ghost text.
  local manual = {}
  result.manual = manual
  local before_id = santa.get_client(bufnr).id
  santa.update({ auto_trigger = false })
  wait_for("restarted without auto_trigger", function()
    local now = santa.get_client(bufnr)
    return now ~= nil and now.id ~= before_id and santa.status.state == "ready"
  end)
  manual.inline_mode = santa.inline_mode()
  view = make_view(manual.inline_mode)
  manual.requests_before = metric("requests")
  vim.api.nvim_win_set_cursor(0, { vim.api.nvim_buf_line_count(bufnr), 0 })
  vim.api.nvim_input("A x = ")
  sleep(1000) -- past any debounce and an answer
  manual.shown_after_typing, manual.requests_after_typing = shown_now(), metric("requests")
  vim.api.nvim_input("<M-\\>")
  if wait_for("shown on the trigger key", shown_now, 10000, true) then
    manual.requests_after_trigger = metric("requests")
    -- A character the item does not start with: it no longer agrees with what is typed.
    local other = view.current(bufnr).text:sub(1, 1) == "#" and "@" or "#"
    vim.api.nvim_input(other)
    sleep(1000)
    manual.shown_after_other, manual.requests_after_other = shown_now(), metric("requests")
  end
  vim.api.nvim_input("<Esc>")
end

co = coroutine.create(main)
vim.schedule(resume)
