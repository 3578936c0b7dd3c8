-- :checkhealth santa_lsp

local M = {}

function M.check()
  local h = vim.health
  local santa = require("santa_lsp")

  h.start("Neovim")
  if vim.fn.has("nvim-0.10") == 1 then
    h.ok("Neovim " .. tostring(vim.version()))
  else
    h.error("Neovim 0.10 or newer is needed")
    return
  end
  if santa.native_available() then
    h.ok("built-in vim.lsp.inline_completion is available")
  else
    h.info("no vim.lsp.inline_completion (Neovim < 0.12): ghost text is drawn by this plugin")
  end
  if not vim.lsp.config then
    h.info("no vim.lsp.config (Neovim 0.10): the server is started from a FileType autocommand")
  end

  h.start("Setup")
  if not santa.config then
    h.warn('setup() was not called', { 'add require("santa_lsp").setup({}) to your config' })
    return
  end
  h.ok("setup() called; inline completion: " .. (santa.inline_mode() or "off"))
  for key, value in pairs(santa.settings) do
    h.info(("%s = %s"):format(key, vim.inspect(value)))
  end

  h.start("Server")
  local cmd = santa.command()
  local exe = cmd[1]
  if vim.fn.executable(exe) == 1 then
    h.ok(("executable: %s"):format(vim.fn.exepath(exe)))
  else
    h.error(("%s is not executable or not on PATH"):format(exe), {
      "pip install santa-lsp (in the environment given by `python`, or one on PATH)",
      'or setup({ cmd = { "/path/to/santa-lsp" } }) / setup({ python = "/path/to/venv/bin/python" })',
    })
  end
  h.info("command: " .. table.concat(cmd, " "))

  local model = santa.settings.model
  if model then
    local path = vim.fn.expand(model)
    if vim.fn.isdirectory(path) == 1 then
      if vim.fn.filereadable(vim.fs.joinpath(path, "config.json")) == 1 then
        h.ok("model directory: " .. path)
      else
        h.warn("model directory has no config.json: " .. path)
      end
    elseif model:match("^[%w_.-]+/[%w_.-]+$") then
      h.info("model looks like a Hub id: " .. model .. " (downloaded to the Hub cache on first use)")
    else
      h.error("model is neither a directory nor a Hub id: " .. model)
    end
  else
    h.info("no model set: the server uses its packaged model")
  end

  local client = santa.get_client()
  local status = santa.status
  if not client then
    h.info("server not running (it starts when a buffer of a matching filetype is opened)")
  elseif status.state == "ready" then
    h.ok(("server running (client %d): ready%s"):format(client.id, status.message ~= "" and (", " .. status.message) or ""))
  elseif status.state == "error" then
    h.error("server error: " .. status.message)
  else
    h.info(("server running (client %d): %s %s"):format(client.id, status.state, status.message))
  end
  if client then
    local caps = client.server_capabilities or {}
    if caps.inlineCompletionProvider then
      h.ok("server offers textDocument/inlineCompletion")
    else
      h.warn("server does not announce inlineCompletionProvider")
    end
  end
end

return M
