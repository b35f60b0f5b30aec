-- Headless Neovim as a real LSP client for tests/test_lsp_neovim.py:
-- open a file, start `tether lsp`, wait for its diagnostics, apply the preferred quick fix
-- through the normal code-action UI, save, wait for that one diagnostic to go, report as JSON.
-- (Diagnostics are pulled: Neovim 0.11 supports textDocument/diagnostic.)
-- usage: nvim --headless --clean -l nvim_quickfix.lua FILE PYTHON REPORT
local file, python, report_path = arg[1], arg[2], arg[3]
local report = {}

local function finish()
  local handle = assert(io.open(report_path, "w"))
  handle:write(vim.json.encode(report))
  handle:close()
  vim.cmd("qall!")
end

local ok, err = pcall(function()
  vim.cmd.edit(vim.fn.fnameescape(file))
  local buf = vim.api.nvim_get_current_buf()
  local client_id = vim.lsp.start({
    name = "tether",
    cmd = { python, "-m", "tether", "lsp" },
    root_dir = vim.fs.dirname(file),
  })
  report.client_started = client_id ~= nil

  local function diagnostics()
    return vim.diagnostic.get(buf, { namespace = nil })
  end

  report.got_diagnostics = vim.wait(60000, function() return #diagnostics() > 0 end, 50)
  report.diagnostics = {}
  for _, d in ipairs(diagnostics()) do
    table.insert(report.diagnostics, { code = d.code, lnum = d.lnum, col = d.col, source = d.source })
  end
  if not report.got_diagnostics then return end

  local first = diagnostics()[1]
  vim.api.nvim_win_set_cursor(0, { first.lnum + 1, first.col })
  local before = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, true), "\n")
  vim.lsp.buf.code_action({
    apply = true,
    context = { only = { "quickfix" } },
    filter = function(action) return action.isPreferred == true end,
  })
  report.applied = vim.wait(60000, function()
    return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, true), "\n") ~= before
  end, 50)
  vim.cmd.write()
  local count = #report.diagnostics
  report.one_fewer = vim.wait(60000, function() return #diagnostics() == count - 1 end, 50)
  report.remaining = {}
  for _, d in ipairs(diagnostics()) do
    table.insert(report.remaining, { code = d.code, lnum = d.lnum, col = d.col, source = d.source })
  end
end)
if not ok then report.error = tostring(err) end
finish()
