-- Tells the server what the user yanked (`santa/copied`, docs/protocol.md): it keeps the text in
-- its ring of recent edits, as context for later prompts. Only with the setting `recentEdits` on
-- (the server ignores it otherwise), and only yanks: deleted or changed text is an edit, which
-- the server sees in didChange already.

local M = {}

local METHOD = "santa/copied"

--- Sends `santa/copied` from `bufnr` to the client `client_id` for each yank there.
function M.attach(bufnr, client_id)
  local group = vim.api.nvim_create_augroup("santa_lsp.copied." .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd("TextYankPost", {
    group = group,
    buffer = bufnr,
    callback = function()
      local santa = require("santa_lsp")
      local client = vim.lsp.get_client_by_id(client_id)
      if not client or santa.settings.recentEdits ~= true or vim.v.event.operator ~= "y" then
        return
      end
      santa._notify(client, METHOD, { text = table.concat(vim.v.event.regcontents, "\n") })
    end,
  })
end

return M
