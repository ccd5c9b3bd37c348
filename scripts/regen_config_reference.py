"""Rewrite the generated key tables in docs/CONFIGURATION.md from the settings model."""

from pathlib import Path

from app.config_file import render_reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "CONFIGURATION.md"
text = DOC.read_text()
start = text.index("-->", text.index("<!-- generated:")) + 3
end = text.index("<!-- end", start)
DOC.write_text(text[:start] + "\n\n" + render_reference() + "\n" + text[end:])
print(f"updated {DOC}")
