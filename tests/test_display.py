"""Rich display for notebooks: HTML, PNG and Markdown renderings, and short plain reprs."""

from __future__ import annotations

import base64

from syncmcp import CallToolResult, GetPromptResult, ImageContent, ReadResourceResult, Tool, ToolList
from syncmcp._display import TEXT_LIMIT

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


def test_call_result_html_shows_text_images_and_collapsible_structured_content() -> None:
    result = CallToolResult.from_dict(
        {
            "content": [{"type": "text", "text": "hello <b>world</b>"}, {"type": "image", "data": PNG, "mimeType": "image/png"}],
            "structuredContent": {"temperature": 21},
        }
    )
    page = result._repr_html_()
    assert "hello &lt;b&gt;world&lt;/b&gt;" in page  # escaped, never injected
    assert f"data:image/png;base64,{PNG}" in page
    assert "<details><summary>structured content</summary>" in page
    assert "&quot;temperature&quot;: 21" in page


def test_error_results_are_highlighted() -> None:
    page = CallToolResult.from_dict({"content": [{"type": "text", "text": "boom"}], "isError": True})._repr_html_()
    assert "tool error" in page
    assert "#cf222e" in page


def test_embedded_resources_and_links_render() -> None:
    page = CallToolResult.from_dict(
        {
            "content": [
                {"type": "resource", "resource": {"uri": "file:///a.txt", "mimeType": "text/plain", "text": "inside"}},
                {"type": "resource_link", "uri": "file:///b.txt", "name": "b"},
                {"type": "mystery", "x": 1},
            ]
        }
    )._repr_html_()
    assert "file:///a.txt" in page and "inside" in page
    assert "file:///b.txt" in page
    assert "mystery content" in page


def test_huge_text_is_cut_in_the_view_but_kept_in_the_object() -> None:
    text = "x" * (TEXT_LIMIT + 500)
    result = CallToolResult.from_dict({"content": [{"type": "text", "text": text}]})
    assert "500 more characters not shown" in result._repr_html_()
    assert result.text == text
    assert len(repr(result)) < 200


def test_plain_reprs_are_short_and_useful() -> None:
    result = CallToolResult.from_dict({"content": [{"type": "text", "text": "Echo: hi"}], "isError": True})
    assert repr(result) == "<CallToolResult is_error: text 'Echo: hi'>"
    tool = Tool.from_dict({"name": "echo", "description": "Echoes back the input. " * 10, "inputSchema": {"type": "object"}})
    assert repr(tool).startswith("<Tool echo - Echoes back the input.")
    assert len(repr(tool)) < 80
    image = ImageContent("image", {}, PNG, "image/png")
    assert repr(image) == "<ImageContent image/png 24 bytes>"
    assert image._repr_png_() == base64.b64decode(PNG)
    assert image._repr_jpeg_() is None


def test_tool_lists_render_as_a_table_with_parameters() -> None:
    tools = ToolList(
        [
            Tool.from_dict(
                {
                    "name": "add",
                    "description": "Add two numbers.",
                    "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a"]},
                }
            )
        ]
    )
    page = tools._repr_html_()
    assert "<table" in page and "add" in page and "Add two numbers." in page
    assert "a<b>*</b>: number" in page and "b: number" in page
    assert "1 tools" in page
    assert tools.names() == ["add"]
    assert isinstance(tools, list)


def test_resources_and_prompts_render() -> None:
    read = ReadResourceResult.from_dict({"contents": [{"uri": "demo://x", "text": "# Title"}]})
    assert "demo://x" in read._repr_html_()
    prompt = GetPromptResult.from_dict({"description": "Greeting", "messages": [{"role": "user", "content": {"type": "text", "text": "Hi!"}}]})
    assert prompt._repr_markdown_() == "*Greeting*\n\n**user:** Hi!\n"


def test_manager_and_tool_map_render_for_notebooks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sys

    from syncmcp import MCPManager, ServerConfig

    from .conftest import scripted

    command = scripted()
    servers = {
        "ok": ServerConfig(command=command[0], args=tuple(command[1:])),
        "broken": ServerConfig(command=sys.executable, args=("-c", "import sys; sys.exit('no such luck')")),
    }
    with MCPManager(servers) as manager:
        tools = manager.list_all_tools()
        page = tools._repr_html_()
        assert "ok__echo" in page and "<table" in page
        assert tools.by_server()["ok"][0].startswith("ok__")
        table = manager._repr_html_()
        assert "ok" in table and "ready" in table
        assert "broken" in table and "failed" in table and "no such luck" in table
        assert f"<td>{len(tools)}</td>" in table  # the tool count of the ready server
    assert "closed" in manager._repr_html_()
    assert "closed" in repr(manager)
