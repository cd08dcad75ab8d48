"""Hypothesis over the readers of a user's own data (tables, images in a folder, CIFAR-10 batches):
whatever a file holds and however it is described, the answer is data of the shape its
description promised, or one DataError sentence — never another exception, never a hang (every
budget is bounded, the examples derandomised)."""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path

import numpy as np

import torch
from hypothesis import given
from hypothesis import strategies as st

from playground.core import cifar
from playground.core.data import dataset_info, load
from playground.core.errors import DataError
from playground.core.spec import DataSpec
from tests.robustness.test_fuzz_parsers import budget

cells = st.one_of(
    st.sampled_from(["1", "-2.5", "3e2", "0", "7", "NA", "", "?", "nan", "inf", "1e999", "a", "b", "Biscoe",
                     '"x,y"', '"', "4,5", " 6 ", "\ufeff", "\x00", "é"]),
    st.text(alphabet="0123456789.,;\t\"ab -\n", max_size=6),
)
rows = st.lists(st.lists(cells, min_size=1, max_size=5), min_size=0, max_size=12)
params = st.fixed_dictionaries({}, optional={
    "target": st.sampled_from(["", "0", "-1", "2", "9", "a", "column 1"]),
    "task": st.sampled_from(["auto", "classification", "regression"]),
    "delimiter": st.sampled_from(["auto", ",", ";", "\t"]),
    "header": st.sampled_from(["auto", "yes", "no"]),
    "ignore": st.sampled_from(["", "0", "1,2", "x"]),
    "val_fraction": st.sampled_from([0.0, 0.2, 0.5, 0.9]),
})


def _check(path: Path, given_params: dict) -> None:
    spec = DataSpec("table", {"path": str(path), **given_params})
    try:
        info = dataset_info(spec)
        ds = load(spec)
    except DataError as e:
        assert "\n" not in str(e) and str(e)
        return
    assert ds.info == info
    n = len(ds.x_train) + len(ds.x_val)
    assert ds.x_train.shape[1:] == info.input_shape and torch.isfinite(ds.x_train).all()
    assert torch.isfinite(ds.x_val).all() and len(ds.y_train) + len(ds.y_val) == n
    if info.task == "classification":
        assert info.n_classes == len(info.class_names) >= 2
        labels = torch.cat([ds.y_train, ds.y_val])
        assert labels.dtype == torch.int64 and 0 <= int(labels.min()) and int(labels.max()) < info.n_classes
    else:
        assert ds.y_train.shape == (len(ds.x_train), 1) and torch.isfinite(ds.y_train).all()


@budget(150)
@given(table=rows, sep=st.sampled_from([",", ";", "\t", " "]), given_params=params)
def test_any_table_loads_as_described_or_says_why_in_one_sentence(table, sep, given_params):
    text = "\n".join(sep.join(row) for row in table)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _check(path, given_params)


@budget(60)
@given(raw=st.binary(max_size=400), bom=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]))
def test_any_bytes_as_a_table_load_or_say_why(raw, bom):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        path.write_bytes(bom + raw)
        _check(path, {})


@budget(40)
@given(raw=st.binary(max_size=300), head=st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0"]))
def test_any_bytes_as_an_image_in_a_folder_load_or_say_which_file(raw, head):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name in ("a", "b"):
            (root / name).mkdir()
        (root / "a" / "x.png").write_bytes(head + raw)
        (root / "b" / "y.jpg").write_bytes(raw)
        spec = DataSpec("image_folder", {"root": folder, "size": 8, "val_fraction": 0.0})
        try:
            ds = load(spec)
        except DataError as e:
            assert "\n" not in str(e) and ("x.png" in str(e) or "y.jpg" in str(e))
            return
        assert ds.x_train.shape == (2, 1, 8, 8)


entries = st.one_of(
    st.binary(max_size=200).map(lambda b: b"\x80\x02" + b),
    st.fixed_dictionaries({
        "data": st.sampled_from([np.zeros((2, 3072), np.uint8), np.zeros((2, 3072), np.float32),
                                 np.zeros((0, 3072), np.uint8), np.zeros(5, np.uint8), "text", None]),
        "labels": st.one_of(st.lists(st.integers(-2, 12), max_size=3), st.none(), st.text(max_size=3)),
    }).map(lambda d: pickle.dumps(d, protocol=2)),
)


@budget(40)
@given(raw=entries, name=st.sampled_from(cifar.FILES))
def test_any_cifar_batch_loads_or_says_which_file(raw, name):
    with tempfile.TemporaryDirectory() as folder:
        where = Path(folder) / cifar.FOLDER
        where.mkdir()
        good = {"data": np.zeros((1, 3072), np.uint8), "labels": [3]}
        for n in cifar.FILES:
            meta = {"label_names": list(cifar.CLASSES)}
            (where / n).write_bytes(pickle.dumps(meta if n == "batches.meta" else good, protocol=2))
        (where / name).write_bytes(raw)
        cifar._CACHE.clear()
        try:
            ds = load(DataSpec("cifar10", {"root": folder, "val_fraction": 0.0}))
        except DataError as e:
            assert "\n" not in str(e) and name in str(e)
            return
        assert ds.x_train.shape[1:] == (3, 32, 32) and ds.x_test.shape[1:] == (3, 32, 32)
