"""``assistant keys create|list|revoke``, keys from the environment, and ``assistant serve``
refusing to serve a non-loopback address without keys."""

from __future__ import annotations

import json

import httpx
import pytest

from assistant.cli.main import main
from assistant.server import create_app


def test_create_list_revoke(tmp_path, capsys):
    from assistant.server.keystore import KeyStore

    store_file = tmp_path / "keys.sqlite"
    assert main(["keys", "create", "support-widget", "--keys", str(store_file),
                 "--sources", "public/*", "--tags", "public,faq", "--adapters", "support",
                 "--allow", "search,answer", "--rate", "60/min", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    token = created.pop("token")
    assert token.startswith("ak_") and len(token) > 40
    assert created["scopes"] == {"sources": ["public/*"], "tags": ["public", "faq"],
                                 "adapters": ["support"], "actions": ["search", "answer"],
                                 "rate": "60/min"}
    assert token.encode() not in store_file.read_bytes()  # stored hashed
    assert main(["keys", "create", "ops", "--keys", str(store_file), "--allow", "all"]) == 0
    shown = capsys.readouterr().out
    ops_token = shown.strip().splitlines()[-1]
    assert "admin" in shown and ops_token.startswith("ak_")

    assert main(["keys", "list", "--keys", str(store_file)]) == 0
    listed = capsys.readouterr().out
    assert created["id"] in listed and "support-widget" in listed and "public/*" in listed
    assert token not in listed and ops_token not in listed

    assert main(["keys", "revoke", created["id"], "--keys", str(store_file)]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["keys", "revoke", "k_nope", "--keys", str(store_file)]) == 2
    assert "no key with id 'k_nope'" in capsys.readouterr().err
    store = KeyStore(store_file, read_only=True)
    assert store.lookup(token) is None and store.lookup(ops_token).name == "ops"
    store.close()
    assert main(["keys", "list", "--keys", str(store_file), "--json"]) == 0
    assert [k["name"] for k in json.loads(capsys.readouterr().out)["keys"]] == ["ops"]
    assert main(["keys", "list", "--keys", str(store_file), "--all", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["keys"]) == 2


@pytest.mark.parametrize("args, message", [
    (["--allow", "search,delete"], "unknown action"),
    (["--rate", "lots"], "rate must look like 60/min"),
    (["--sources", "public/*,"], "empty item"),
])
def test_bad_scopes_are_usage_errors(tmp_path, capsys, args, message):
    store_file = tmp_path / "keys.sqlite"
    assert main(["keys", "create", "x", "--keys", str(store_file), *args]) == 2
    assert message in capsys.readouterr().err
    # the bad create made no store; revoking makes none either
    assert main(["keys", "revoke", "k_nope", "--keys", str(store_file)]) == 2
    assert "no key store at" in capsys.readouterr().err and not store_file.exists()


def test_serve_refuses_an_open_non_loopback_address(tmp_path, capsys, index_dir, monkeypatch):
    import uvicorn

    from assistant.server.app import check_open_access, is_loopback
    from core.settings import Settings

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    serve = ["serve", "--index", str(index_dir), "--keys", str(tmp_path / "keys.sqlite")]
    assert main([*serve, "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to serve on 0.0.0.0 without API keys" in err
    assert "assistant keys create" in err and "--insecure-no-auth" in err
    assert main([*serve, "--host", "0.0.0.0", "--api-key", "k"]) == 2
    assert "no longer takes --api-key" in capsys.readouterr().err
    assert started == []
    assert main([*serve, "--host", "0.0.0.0", "--insecure-no-auth"]) == 0
    assert main([*serve, "--host", "127.0.0.1"]) == 0
    assert main(["keys", "create", "web", "--keys", str(tmp_path / "keys.sqlite")]) == 0
    assert main([*serve, "--host", "0.0.0.0"]) == 0  # a key store: keys are required
    assert [kw["host"] for kw in started] == ["0.0.0.0", "127.0.0.1", "0.0.0.0"]

    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.5", "example.com"]))
    keyfile = tmp_path / "env-keys"
    keyfile.write_text("# mounted secret\nfile-key\n")
    check_open_access(Settings(home=tmp_path / "h", server_host="0.0.0.0",
                               server_api_keys_file=keyfile))
    check_open_access(Settings(home=tmp_path / "h", server_host="0.0.0.0",
                               server_api_keys=["env-key"]))


def test_a_key_store_path_that_is_not_one_stops_serve_at_startup(tmp_path, capsys, index_dir,
                                                                 monkeypatch):
    import uvicorn

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: started.append(kw))
    notes = tmp_path / "notes.txt"
    notes.write_text("not a key store\n")
    for keys, message in ((notes, "not a key store"), (tmp_path, "a directory, not a key store")):
        assert main(["serve", "--index", str(index_dir), "--keys", str(keys)]) == 1
        assert message in capsys.readouterr().err
        assert main(["keys", "list", "--keys", str(keys)]) == 1
        assert message in capsys.readouterr().err
    assert main(["keys", "create", "w", "--keys", str(notes / "keys.sqlite")]) == 1
    assert "cannot create its folder" in capsys.readouterr().err
    assert started == [] and notes.read_text() == "not a key store\n"
    with pytest.raises(SystemExit) as exc:  # argparse: before anything starts
        main(["serve", "--index", str(index_dir), "--port", "70000"])
    assert exc.value.code == 2 and started == []
    assert "--port: must be a port number in 0..65535" in capsys.readouterr().err


def test_a_port_in_use_is_a_plain_failure_not_the_skipped_files_code(tmp_path, capsys,
                                                                      index_dir):
    # uvicorn exits 3 when it cannot bind, which is ingest's "files were skipped"
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(["serve", "--index", str(index_dir), "--port", str(port),
                     "--keys", str(tmp_path / "keys.sqlite")])
    assert code == 1
    assert f"could not start on 127.0.0.1:{port}" in capsys.readouterr().err


def test_keys_from_the_environment_and_a_key_file(live, settings, services, tmp_path):
    keyfile = tmp_path / "keys.txt"
    keyfile.write_text("# one key a line\nfile-key-1\n\nfile-key-2\n")
    server = live(create_app(settings(server_api_keys=["env-key"],
                                      server_api_keys_file=keyfile), services()))
    url = f"{server.url}/v1/search"
    for key in ("env-key", "file-key-1", "file-key-2"):
        ok = httpx.get(url, params={"q": "refund"}, headers={"X-API-Key": key})
        assert ok.status_code == 200, key
    assert httpx.get(url, params={"q": "refund"}, headers={"X-API-Key": "# one key a line"}
                     ).status_code == 401
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot read the API key file"):
        create_app(settings(server_api_keys_file=tmp_path / "missing"), services())
