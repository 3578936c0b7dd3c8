-- santa-lsp client for Neovim: registers the language server, wires inline completion (Neovim's
-- own vim.lsp.inline_completion on >= 0.12: santa_lsp.native; the plugin's ghost text on
-- 0.10/0.11: santa_lsp.ghost), and tracks the server's santa/status notification. Contract:
-- docs/protocol.md.

local M = {}

M.name = "santa_lsp"

--- Server settings of docs/protocol.md with their Lua type; anything else in setup() is either a
--- plugin option (below) or unknown (warned about).
local SERVER_KEYS = {
  model = "string",
  backend = "string",
  backendUrl = "string",
  backendModel = "string",
  backendApiKeyEnv = "string",
  backendTimeoutMs = "number",
  device = "string",
  dtype = "string",
  maxNewTokens = "number",
  timeBudgetMs = "number",
  fimMode = "string",
  temperature = "number",
  stop = "table",
  enabled = "boolean",
  disabledLanguages = "table",
  crossFile = "boolean",
  crossFileTokens = "number",
  recentEdits = "boolean",
  recentEditsTokens = "number",
  stats = "boolean",
  minTokenProb = "number",
  stopRepetition = "boolean",
  syntaxCheck = "boolean",
  tokenHealing = "boolean",
  candidates = "number",
  -- server extensions (docs/protocol.md)
  cache = "boolean",
  warmUp = "boolean",
  keepAgreeing = "boolean",
  prefetchNext = "boolean",
  prefixCacheMb = "number",
}

--- Plugin options and their defaults.
local DEFAULTS = {
  cmd = nil, -- string or list; default: `santa-lsp` next to `python`, or on PATH
  python = nil, -- interpreter of the environment where santa-lsp is installed
  cmd_env = nil, -- extra environment variables for the server
  filetypes = nil, -- nil: every filetype
  root_markers = { ".git" },
  inline = "auto", -- "auto": native on >= 0.12 with auto_trigger, else ghost text; "native" | "ghost" | false
  auto_trigger = true, -- ask while typing (false: only on the trigger key)
  debounce_ms = 120,
  keymaps = {
    accept = "<Tab>",
    accept_word = "<C-Right>",
    accept_line = "<C-Down>",
    dismiss = "<C-]>",
    next = "<M-]>",
    prev = "<M-[>",
    trigger = "<M-\\>",
  },
  notify = true, -- vim.notify on server errors
}

-- Keys whose change needs a new server process: they are also given on its command line, and
-- the protocol only promises a live reload for `model`.
local RESTART_KEYS = { "device", "dtype" }

M.config = nil ---@type table|nil
M.settings = {} ---@type table protocol keys given by the user
M.status = { state = "stopped", message = "" }

local function warn(msg, level)
  vim.notify("santa_lsp: " .. msg, level or vim.log.levels.WARN)
end

local function has(feature)
  return vim.fn.has(feature) == 1
end

--- Method-call syntax arrived in 0.11; 0.10 clients take `client.request(...)`.
function M._request(client, method, params, handler, bufnr)
  if has("nvim-0.11") then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

function M._notify(client, method, params)
  if has("nvim-0.11") then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

function M._cancel(client, id)
  if has("nvim-0.11") then
    return client:cancel_request(id)
  end
  return client.cancel_request(id)
end

--- Whether this Neovim has the built-in inline completion of 0.12.
function M.native_available()
  return vim.lsp.inline_completion ~= nil and type(vim.lsp.inline_completion.enable) == "function"
end

--- "native", "ghost" or nil (inline completion off).
function M.inline_mode()
  local want = M.config and M.config.inline
  if want == false then
    return nil
  end
  -- Neovim's own always asks while typing: waiting for the trigger key takes the ghost text.
  local auto_native = want == "auto" and M.config.auto_trigger ~= false
  if (want == "native" or auto_native) and M.native_available() then
    return "native"
  end
  return "ghost"
end

--- Splits setup() options into plugin options and server settings; warns about unknown keys.
local function split_opts(opts)
  local plugin, server = {}, {}
  for k, v in pairs(opts or {}) do
    if SERVER_KEYS[k] then
      if type(v) ~= SERVER_KEYS[k] then
        warn(("%s must be a %s; ignored"):format(k, SERVER_KEYS[k]))
      else
        server[k] = v
      end
    elseif DEFAULTS[k] ~= nil or k == "cmd" or k == "python" or k == "cmd_env" or k == "filetypes" then
      plugin[k] = v
    else
      warn(("unknown option %q ignored"):format(k))
    end
  end
  return plugin, server
end

local function expand(path)
  return path and vim.fn.expand(path) or path
end

--- The server command line, settings flags included (docs/protocol.md, "Starting").
function M.command(config, settings)
  config = config or M.config or DEFAULTS
  settings = settings or M.settings
  local cmd
  if type(config.cmd) == "string" then
    cmd = { config.cmd }
  elseif type(config.cmd) == "table" then
    cmd = vim.deepcopy(config.cmd)
  elseif config.python then
    local python = expand(config.python)
    local script = vim.fs.joinpath(vim.fs.dirname(python), "santa-lsp")
    if vim.fn.executable(script) == 1 then
      cmd = { script }
    else
      cmd = { python, "-m", "santa_lsp" }
    end
  else
    cmd = { "santa-lsp" }
  end
  if settings.model then
    vim.list_extend(cmd, { "--model", expand(settings.model) })
  end
  if settings.device then
    vim.list_extend(cmd, { "--device", settings.device })
  end
  if settings.dtype then
    vim.list_extend(cmd, { "--dtype", settings.dtype })
  end
  return cmd
end

--- The settings object sent as initializationOptions and in didChangeConfiguration.
function M.server_settings()
  local s = vim.deepcopy(M.settings)
  if s.model then
    s.model = expand(s.model)
  end
  if s.enabled == nil then
    s.enabled = true
  end
  return s
end

--- Whether completions are wanted in `bufnr` (master switch and disabledLanguages).
function M.enabled_for(bufnr)
  if M.settings.enabled == false then
    return false
  end
  local ft = vim.bo[bufnr or 0].filetype
  for _, lang in ipairs(M.settings.disabledLanguages or {}) do
    if lang == ft then
      return false
    end
  end
  return true
end

local function set_status(state, message)
  M.status = { state = state, message = message or "" }
  pcall(vim.api.nvim_exec_autocmds, "User", {
    pattern = "SantaLspStatus",
    modeline = false,
    data = vim.deepcopy(M.status),
  })
end

--- `santa/status` notification handler.
local function on_status(_, result)
  if type(result) ~= "table" or type(result.state) ~= "string" then
    return
  end
  local previous = M.status.state
  set_status(result.state, type(result.message) == "string" and result.message or "")
  if result.state == "error" and M.config and M.config.notify and previous ~= "error" then
    warn("server error: " .. M.status.message, vim.log.levels.ERROR)
  end
end

--- A short text for a statusline: "santa: ready", "santa: loading", "santa: error".
function M.statusline()
  if M.settings.enabled == false then
    return "santa: off"
  end
  return "santa: " .. M.status.state
end

--- The running santa-lsp client (attached to `bufnr` when given).
function M.get_client(bufnr)
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  local clients = get({ name = M.name, bufnr = bufnr })
  return clients[1]
end

local function on_attach(client, bufnr)
  require("santa_lsp.prefill").attach(bufnr, client.id)
  require("santa_lsp.copied").attach(bufnr, client.id)
  local mode = M.inline_mode()
  if mode == "native" then
    local ok, err = pcall(require("santa_lsp.native").attach, bufnr, M.config)
    if ok then
      return
    end
    warn("native inline completion failed (" .. tostring(err) .. "); using ghost text")
  elseif M.native_available() then
    -- Neovim's own, left on in the buffer by native mode before a restart (or on in all buffers),
    -- would ask too.
    require("santa_lsp.native").enable_client(client.id, false)
  end
  if mode then
    require("santa_lsp.ghost").attach(bufnr, client.id, M.config)
  end
end

local function lsp_config()
  local settings = M.server_settings()
  return {
    name = M.name,
    cmd = M.command(),
    cmd_env = M.config.cmd_env,
    filetypes = M.config.filetypes,
    root_markers = M.config.root_markers,
    -- Neovim < 0.12 does not announce inline completion; this plugin handles it there.
    capabilities = vim.tbl_deep_extend("force", vim.lsp.protocol.make_client_capabilities(), {
      textDocument = { inlineCompletion = { dynamicRegistration = false } },
    }),
    init_options = settings,
    settings = { santaLsp = settings },
    handlers = { ["santa/status"] = on_status },
    -- One server (one model in memory) for every project.
    reuse_client = function(client, config)
      return client.name == config.name
    end,
    on_attach = on_attach,
    on_exit = function(code, signal)
      vim.schedule(function()
        if code ~= 0 and M.status.state ~= "error" then
          set_status("error", ("server exited (code %s, signal %s)"):format(code, signal))
        elseif M.status.state ~= "error" then
          set_status("stopped", "")
        end
      end)
    end,
  }
end

local augroup = vim.api.nvim_create_augroup("santa_lsp", { clear = true })

--- Neovim 0.10 has no vim.lsp.config/enable: start the client from a FileType autocmd.
local function start_legacy(bufnr)
  if vim.bo[bufnr].buftype ~= "" then
    return
  end
  local config = lsp_config()
  if config.filetypes and not vim.tbl_contains(config.filetypes, vim.bo[bufnr].filetype) then
    return
  end
  config.root_dir = vim.fs.root and vim.fs.root(bufnr, config.root_markers or {}) or vim.fn.getcwd()
  vim.lsp.start(config, { bufnr = bufnr, reuse_client = config.reuse_client })
end

local function register()
  set_status("starting", "")
  if vim.lsp.config and vim.lsp.enable then
    vim.lsp.config(M.name, lsp_config())
    vim.lsp.enable(M.name)
    return
  end
  vim.api.nvim_clear_autocmds({ group = augroup, event = "FileType" })
  vim.api.nvim_create_autocmd("FileType", {
    group = augroup,
    callback = function(ev)
      start_legacy(ev.buf)
    end,
  })
  if vim.v.vim_did_enter == 1 then
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].filetype ~= "" then
        start_legacy(buf)
      end
    end
  end
end

--- Stops the server and waits (up to 5 s) until it is gone.
function M.stop()
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  local clients = get({ name = M.name })
  for _, client in ipairs(clients) do
    if has("nvim-0.11") then
      client:stop()
    else
      client.stop()
    end
  end
  vim.wait(5000, function()
    return #get({ name = M.name }) == 0
  end, 50)
  set_status("stopped", "")
end

function M.restart()
  M.stop()
  register()
end

--- Sends the current settings to the running server.
local function push_settings()
  local client = M.get_client()
  if client then
    M._notify(client, "workspace/didChangeConfiguration", { settings = { santaLsp = M.server_settings() } })
  end
end

--- Changes settings at run time: sent with workspace/didChangeConfiguration, or a restart for
--- device/dtype/cmd changes and for clearing the model (the packaged one needs a fresh start).
function M.update(opts)
  local plugin, server = split_opts(opts)
  local restart = next(plugin) ~= nil
  for _, k in ipairs(RESTART_KEYS) do
    if server[k] ~= nil and server[k] ~= M.settings[k] then
      restart = true
    end
  end
  local clear_model = server.model == ""
  server.model = not clear_model and server.model or nil
  if clear_model and M.settings.model ~= nil then
    restart = true
  end
  M.config = vim.tbl_deep_extend("force", M.config or DEFAULTS, plugin)
  M.settings = vim.tbl_extend("force", M.settings, server)
  if clear_model then
    M.settings.model = nil
  end
  if restart then
    M.restart()
  else
    -- Keep the registered config current for buffers that attach later.
    if vim.lsp.config then
      vim.lsp.config(M.name, lsp_config())
    end
    push_settings()
  end
end

function M.toggle()
  local on = M.settings.enabled == false
  M.settings.enabled = on
  push_settings()
  local client = M.get_client()
  if client and M.inline_mode() == "native" then
    require("santa_lsp.native").enable_client(client.id, on)
  end
  if not on then
    require("santa_lsp.ghost").dismiss_all()
  end
  vim.notify("santa_lsp: completions " .. (on and "on" or "off"))
  return on
end

--- Requests santa/stats; `callback(err, result)`, or a notification when no callback is given.
function M.stats(callback)
  local client = M.get_client()
  if not client then
    warn("server not running")
    return
  end
  M._request(client, "santa/stats", {}, function(err, result)
    if callback then
      return callback(err, result)
    end
    if err then
      warn("santa/stats failed: " .. (err.message or vim.inspect(err)))
      return
    end
    local shown, accepted = result.shown or 0, result.accepted or 0
    local rate = shown > 0 and (" (%.1f%%)"):format(100 * accepted / shown) or ""
    local lat = result.latencyMs or {}
    local msg = ("santa_lsp: %d shown, %d accepted%s; latency p50 %s ms, p95 %s ms"):format(
      shown,
      accepted,
      rate,
      lat.p50 and ("%.0f"):format(lat.p50) or "?",
      lat.p95 and ("%.0f"):format(lat.p95) or "?"
    )
    if shown == 0 and not M.settings.stats then
      msg = msg .. " (statistics are off: setup({ stats = true }))"
    end
    vim.notify(msg)
  end)
end

local SUBCOMMANDS = {
  status = function()
    local s = M.status
    vim.notify(("santa_lsp: %s%s (inline: %s)"):format(
      s.state,
      s.message ~= "" and (": " .. s.message) or "",
      M.inline_mode() or "off"
    ))
  end,
  stats = function()
    M.stats()
  end,
  toggle = function()
    M.toggle()
  end,
  restart = function()
    M.restart()
  end,
  log = function()
    vim.cmd.edit(vim.lsp.get_log_path())
  end,
}

local function create_command()
  vim.api.nvim_create_user_command("SantaLsp", function(args)
    local fn = SUBCOMMANDS[args.fargs[1] or "status"]
    if not fn then
      warn("unknown subcommand " .. args.fargs[1])
      return
    end
    fn()
  end, {
    nargs = "?",
    desc = "santa-lsp: status | stats | toggle | restart | log",
    complete = function(lead)
      return vim.tbl_filter(function(name)
        return name:find(lead, 1, true) == 1
      end, vim.tbl_keys(SUBCOMMANDS))
    end,
  })
end

--- Entry point: `require("santa_lsp").setup({ model = "...", device = "cpu", ... })`.
function M.setup(opts)
  if not has("nvim-0.10") then
    warn("needs Neovim 0.10 or newer", vim.log.levels.ERROR)
    return
  end
  local plugin, server = split_opts(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(DEFAULTS), plugin)
  M.settings = server
  vim.api.nvim_set_hl(0, "SantaLspGhost", { link = "Comment", default = true })
  create_command()
  register()
end

M._DEFAULTS = DEFAULTS
M._SERVER_KEYS = SERVER_KEYS

return M
