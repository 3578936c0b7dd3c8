-- Accepting a suggestion, in whole or in part: shared by the ghost text of Neovim 0.10/0.11
-- (santa_lsp.ghost) and the native inline completion of 0.12 (santa_lsp.native).

local M = {}

--- The start of `rest` that accept-word ("word") or accept-line ("line") inserts: the next word
--- (or run of punctuation) with the blanks before it; the rest of the line with its line break;
--- all of it for "all".
function M.next_part(rest, what)
  if what == "all" then
    return rest
  elseif what == "line" then
    local nl = rest:find("\n", 1, true)
    return nl and rest:sub(1, nl) or rest
  end
  return rest:match("^%s*[%w_]+") or rest:match("^%s*[^%w_%s]+") or rest:match("^%s+") or rest
end

--- The cursor of the current window, 0-based row and byte column.
function M.cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

--- Replaces rows/byte columns sr:sc..er:ec of `bufnr` with `text`; the cursor goes after it.
function M.replace(bufnr, sr, sc, er, ec, text)
  local lines = vim.split(text, "\n", { plain = true })
  vim.api.nvim_buf_set_text(bufnr, sr, sc, er, ec, lines)
  vim.api.nvim_win_set_cursor(0, { sr + #lines, (#lines == 1 and sc or 0) + #lines[#lines] })
end

--- The text between `start` ({row, col}) and the cursor: what the user has typed (or accepted)
--- of a suggestion that starts there; nil when the cursor is before it.
function M.typed_since(bufnr, start)
  local row, col = M.cursor()
  if row < start[1] or (row == start[1] and col < start[2]) then
    return nil
  end
  local ok, lines = pcall(vim.api.nvim_buf_get_text, bufnr, start[1], start[2], row, col, {})
  return ok and table.concat(lines, "\n") or nil
end

--- The `right` bytes right of the cursor that a suggestion replaces ("" for none).
function M.replaced(bufnr, right)
  if (right or 0) <= 0 then
    return ""
  end
  local row, col = M.cursor()
  local ok, lines = pcall(vim.api.nvim_buf_get_text, bufnr, row, col, row, col + right, {})
  return ok and lines[1] or ""
end

--- What is left to insert of `text`, a suggestion that starts at `start`, once the text typed
--- since is taken off; nil when that is not its beginning or nothing is left.
function M.rest(bufnr, text, start)
  local typed = M.typed_since(bufnr, start)
  if typed == nil or text:sub(1, #typed) ~= typed or #typed >= #text then
    return nil
  end
  return text:sub(#typed + 1)
end

--- Accepts the next word or line (or all) of `text`, a suggestion that starts at `start` and replaces
--- `right` bytes right of the cursor (characters the editor auto-closed): the part is inserted at
--- the cursor; when it is all that is left, the suggestion's end replaces those bytes too.
--- Returns "part", "whole", or nil when the buffer no longer agrees with the suggestion.
function M.accept_next(bufnr, text, start, right, what)
  local rest = M.rest(bufnr, text, start)
  if rest == nil then
    return nil
  end
  local part = M.next_part(rest, what)
  local row, col = M.cursor()
  -- Also whole when all that would be left is what it replaces right of the cursor.
  if part ~= rest and rest:sub(#part + 1) ~= M.replaced(bufnr, right) then
    M.replace(bufnr, row, col, row, col, part)
    return "part"
  end
  M.replace(bufnr, row, col, row, col + (right or 0), rest)
  return "whole"
end

return M
