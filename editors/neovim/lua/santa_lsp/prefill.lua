-- Tells the server where the user is about to type (`santa/prefill`, docs/protocol.md): on
-- entering insert mode, so that it prepares the prompt there before the first keystroke. The
-- server does that only while it is idle, and drops it for any request.

local M = {}

local METHOD = "santa/prefill"

--- Sends `santa/prefill` for the cursor of the current window, once insert mode has placed it.
local function notify(bufnr, client_id)
  vim.schedule(function()
    local santa = require("santa_lsp")
    local client = vim.lsp.get_client_by_id(client_id)
    if not client or bufnr ~= vim.api.nvim_get_current_buf() or not santa.enabled_for(bufnr) then
      return
    end
    santa._notify(client, METHOD, vim.lsp.util.make_position_params(0, client.offset_encoding))
  end)
end

--- Sends `santa/prefill` from `bufnr` to the client `client_id` each time insert mode starts.
function M.attach(bufnr, client_id)
  local group = vim.api.nvim_create_augroup("santa_lsp.prefill." .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd("InsertEnter", {
    group = group,
    buffer = bufnr,
    callback = function()
      notify(bufnr, client_id)
    end,
  })
end

return M
