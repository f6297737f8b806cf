"""The zoo's download path, offline: a local HTTP server that honours ``Range`` (and can cut a
transfer short) or a ``file://`` URL stands in for the projects' hosts. Then ``evalsuite eval
zoo:NAME --download`` end to end on digits: the row carries the zoo name, the file's sha256 and
the published figure with the protocol differences, and the leaderboard and report show
measured minus published."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import re
import threading

import pytest
import torch

import evalsuite
from evalsuite.archs import build_backbone
from evalsuite.cli import main
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import ZOO
from evalsuite.report import make_report
from evalsuite.results import read_rows
from evalsuite.zoo.catalog import PIN_SUFFIX, local_path
from evalsuite.zoo.compare import TITLE
from evalsuite.zoo.download import ensure
from evalsuite.zoo.entry import Figure, Hash, ZooEntry


def _torchvision_bytes() -> bytes:
    """A torchvision-layout file (backbone and a 10-way fc, as torchvision saves its weights) of resnet_tiny."""
    torch.manual_seed(0)
    state = build_backbone("resnet_tiny").state_dict()
    state["fc.weight"], state["fc.bias"] = torch.randn(10, 64), torch.randn(10)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


DATA = _torchvision_bytes()
SHA256, MD5 = hashlib.sha256(DATA).hexdigest(), hashlib.md5(DATA).hexdigest()


class _Server(http.server.ThreadingHTTPServer):
    payload = DATA
    cut_after: int | None = None  # send only this many bytes of the next response, then hang up
    ranges: list

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.ranges = []


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        server, data = self.server, self.server.payload
        asked = self.headers.get("Range")
        server.ranges.append(asked)
        start = int(re.match(r"bytes=(\d+)-", asked).group(1)) if asked else 0
        self.send_response(206 if asked else 200)
        if asked:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if server.cut_after is not None:
            body, server.cut_after = body[:server.cut_after], None
            self.close_connection = True
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _register(monkeypatch, entry: ZooEntry) -> ZooEntry:
    monkeypatch.setitem(ZOO.module_dict, entry.name, lambda: entry)
    return entry


def _entry(url: str, digest: Hash | None, **kw) -> ZooEntry:
    figure = Figure("digits", "knn", "top1@k=20", 90.0, "a test's table",
                    {"k": 20, "temperature": 0.07, "transform": "resize256-bicubic-crop224"})
    return ZooEntry(kw.pop("name", "tiny_tv"), "supervised test", "resnet_tiny", url, "tests/test_zoo.py",
                    "plain torchvision state dict (fc included)", 32, None, "digits", (figure,), "none", digest, **kw)


def test_download_resumes_after_a_cut_with_a_range_request(server, monkeypatch, isolated_cache):
    url = f"http://127.0.0.1:{server.server_port}/resnet_tiny-{SHA256[:8]}.pth"
    entry = _register(monkeypatch, _entry(url, Hash("sha256", SHA256[:8], "its file name")))
    server.cut_after = 1000
    with pytest.raises(EvalsuiteError, match=rf"stopped at 1,000 of {len(DATA):,} bytes.*run the same command to resume"):
        ensure(entry, download=True, quiet=True)
    part = local_path(entry).with_name(local_path(entry).name + ".part")
    assert part.stat().st_size == 1000 and not local_path(entry).exists()
    path, sha = ensure(entry, download=True, quiet=True)
    assert server.ranges == [None, "bytes=1000-"]  # the second request asked only for the rest
    assert path.read_bytes() == DATA and sha == SHA256 and not part.exists()
    assert path == isolated_cache / "zoo" / "tiny_tv" / f"resnet_tiny-{SHA256[:8]}.pth"


def test_wrong_hash_is_refused_naming_both_hashes_and_no_host(server, monkeypatch):
    url = f"http://127.0.0.1:{server.server_port}/weights.pth"
    entry = _register(monkeypatch, _entry(url, Hash("md5", "deadbeef", "the README's md5 column")))
    with pytest.raises(EvalsuiteError) as err:
        ensure(entry, download=True, quiet=True)
    message = str(err.value)
    assert MD5 in message and "deadbeef" in message and "the README's md5 column" in message
    assert "127.0.0.1" not in message and "http" not in message
    folder = local_path(entry).parent
    assert not any(folder.iterdir())  # neither the file nor its part is kept
    assert main(["eval", "zoo:tiny_tv", "--download", "--tasks", "knn", "--results", str(folder / "r"), "--quiet"]) == 2


def test_file_url_resumes_and_pins_a_file_with_no_published_hash(tmp_path, monkeypatch, capsys):
    source = tmp_path / "mirror" / "weights.pth"
    source.parent.mkdir()
    source.write_bytes(DATA)
    entry = _register(monkeypatch, _entry(source.as_uri(), None))
    with pytest.raises(EvalsuiteError, match="is not in .*pass --download to fetch it"):
        ensure(entry, download=False)
    part = local_path(entry).with_name("weights.pth.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(DATA[:777])  # what a cut transfer left
    path, sha = ensure(entry, download=True, quiet=True)
    assert path.read_bytes() == DATA and sha == SHA256
    assert f"no hash is published for weights.pth; its sha256 is {SHA256}" in capsys.readouterr().err
    assert path.with_name("weights.pth" + PIN_SUFFIX).read_text().split()[0] == SHA256
    path.write_bytes(DATA[:-1] + b"x")  # the cached file changed since it was fetched
    with pytest.raises(EvalsuiteError, match=rf"has sha256 [0-9a-f]{{64}}, not the {SHA256} it had when it was downloaded"):
        ensure(entry, download=True)


def test_unknown_zoo_name_lists_the_valid_ones(capsys):
    assert main(["eval", "zoo:dino_vit_s16", "--tasks", "knn", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "unknown zoo checkpoint 'dino_vit_s16'; valid names are:" in err and "dino_vits16" in err


def test_zoo_eval_rows_carry_the_name_hash_and_published_figure(server, monkeypatch, tmp_path, capsys, one_thread):
    url = f"http://127.0.0.1:{server.server_port}/resnet_tiny-{SHA256[:8]}.pth"
    _register(monkeypatch, _entry(url, Hash("sha256", SHA256[:8], "its file name")))
    results = tmp_path / "r"
    assert main(["list", "zoo"]) == 0
    assert re.search(r"tiny_tv\t.*\tsha256 " + SHA256[:8] + r"\tabsent", capsys.readouterr().out)
    common = ["--datasets", "digits", "--tasks", "knn", "--results", str(results), "--quiet"]
    assert main(["eval", "zoo:tiny_tv", *common]) == 2  # no --download: nothing fetched
    assert "pass --download" in capsys.readouterr().err
    assert main(["eval", "zoo:tiny_tv", "--download", *common]) == 0
    (row,) = read_rows(results)
    ckpt, published = row["checkpoint"], row["published"]
    assert ckpt["label"] == "tiny_tv" and ckpt["sha256"] == SHA256 and ckpt["meta"]["zoo"]["name"] == "tiny_tv"
    assert ckpt["meta"]["zoo"]["published_hash"]["prefix"] == SHA256[:8] and ckpt["kind"] == "ssl"
    assert published["value"] == 90.0 and published["source"] == "a test's table"
    assert published["delta"] == pytest.approx(100 * row["value"] - 90.0, abs=1e-4)
    transform = row["transform"].split("-norm=")[0]
    assert published["differences"] == [f"transform: here {transform}, published resize256-bicubic-crop224"]
    assert main(["list", "zoo"]) == 0 and "\tpresent (" in capsys.readouterr().out

    assert main(["leaderboard", "--results", str(results)]) == 0
    board = capsys.readouterr().out
    assert TITLE in board
    line = next(x for x in board.splitlines() if x.startswith("| tiny_tv | digits/knn top1@20"))
    assert f"| {100 * row['value']:.1f} | 90 | {100 * row['value'] - 90:+.1f} | transform: here {transform}" in line
    written = make_report(results, tmp_path / "report.md", fmt="md")
    assert TITLE in written[0].read_text() and "a test's table" in written[0].read_text()

    table = evalsuite.evaluate("zoo:tiny_tv", datasets="digits", tasks="knn")  # the API: the same file, in the cache
    assert table.loc[0, "checkpoint"] == "tiny_tv" and table.loc[0, "published"]["value"] == 90.0
    assert table.loc[0, "value"] == pytest.approx(row["value"])


def test_same_protocol_says_so(monkeypatch):
    from evalsuite.zoo.load import differences

    figure = Figure("digits", "knn", "top1@k=20", 90.0, "t", {"k": 20, "temperature": 0.07})
    row = {"task": "knn", "metric": "top1@k=20", "settings": {"temperature": 0.07, "ks": [10, 20]}, "transform": "native8"}
    assert differences(row, figure) == []
    assert differences({**row, "metric": "top1@k=10"}, figure) == ["k: here 10, published 20"]
    linear = dataclasses.replace(figure, task="linear", metric="top1", protocol={}, procedure="SGD on crops")
    assert differences({**row, "task": "linear", "metric": "top1"}, linear) == [
        "procedure: published SGD on crops; here evalsuite's linear"]
