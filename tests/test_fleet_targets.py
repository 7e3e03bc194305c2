"""The targets file is read strictly, `--only` selects by label, and `--shard I/N` splits a selection into
disjoint, balanced parts that cover it — with no database."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sovrium_tui.errors import TargetsInvalid, UsageError
from sovrium_tui.fleet.capacity import ServerCapacity
from sovrium_tui.fleet.selection import select_targets
from sovrium_tui.fleet.shard import Shard
from sovrium_tui.fleet.targets import Target, load_targets, server_of

GOOD = """\
targets:
  - name: tenant-a
    url: postgresql://app@db1/tenant_a
    labels: {region: eu, tier: canary}
  - name: tenant-b
    url_env: TENANT_B_URL
    labels: {region: us}
  - name: tenant-c
    url: postgresql://app@db2:6432/tenant_c
    labels: {region: eu, shard_group: 7}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(text)
    return path


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(TargetsInvalid) as caught:
        load_targets(path, environ or {})
    return caught.value.render().splitlines()


def test_a_good_file_reads_into_typed_targets_in_file_order(tmp_path: Path) -> None:
    targets = load_targets(write(tmp_path, GOOD), {"TENANT_B_URL": "postgresql://app:pw@db1/tenant_b"})
    assert [t.name for t in targets] == ["tenant-a", "tenant-b", "tenant-c"]
    assert targets[1].url == "postgresql://app:pw@db1/tenant_b"
    assert targets[0].labels == (("region", "eu"), ("tier", "canary"))
    assert targets[2].label("shard_group") == "7"
    assert [t.server for t in targets] == ["db1:5432", "db1:5432", "db2:6432"]


def test_every_problem_is_reported_with_the_file_line_and_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
targets:
  - name: a
    url: postgresql://app@db/a
    lables: {region: eu}
  - name: b
  - name: c
    url_env: MISSING_URL
  - name: a
    url: postgresql://app@db/a2
  - name: d
    url: mysql://db/d
""",
    )
    assert problems_of(path) == [
        f"{path}:4: targets[0].lables: unknown key 'lables' (did you mean 'labels'?)",
        f"{path}:5: targets[1]: no database: give url or url_env",
        f"{path}:7: targets[2].url_env: environment variable MISSING_URL is not set (or empty)",
        f"{path}:8: targets[3].name: duplicate target name 'a' (first at targets[0])",
        f"{path}:11: targets[4].url: url must be a postgresql:// URL",
    ]


def test_unknown_top_level_keys_empty_files_and_duplicate_keys_are_refused(tmp_path: Path) -> None:
    assert problems_of(write(tmp_path, "")) == [
        f"{tmp_path / 'targets.yaml'}: the targets file is empty: it needs `targets:` and a list"
    ]
    path = write(tmp_path, "target:\n  - name: a\n    url: postgresql://db/a\n")
    assert problems_of(path) == [
        f"{path}:1: target: unknown key 'target' (did you mean 'targets'?)",
        f"{path}:1: targets: `targets` must be a non-empty list of {{name, url | url_env, labels}}",
    ]
    path = write(tmp_path, "targets:\n  - name: a\n    url: postgresql://db/a\n    url: postgresql://db/b\n")
    assert problems_of(path) == [f"{path}:4: targets[0].url: key 'url' is written twice"]


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "nope.yaml") == [f"{tmp_path / 'nope.yaml'}: targets file not found"]


def test_an_environment_variable_without_a_postgres_url_is_refused_without_showing_its_value(tmp_path: Path) -> None:
    path = write(tmp_path, "targets:\n  - name: a\n    url_env: A_URL\n")
    [problem] = problems_of(path, {"A_URL": "mysql://root:hunter2@db/a"})
    assert problem == f"{path}:3: targets[0].url_env: environment variable A_URL does not hold a postgresql:// URL"
    assert "hunter2" not in problem


def test_names_and_labels_are_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "targets:\n  - name: 'bad name'\n    url: postgresql://db/a\n    labels: {name: x, ok: true}\n",
    )
    assert problems_of(path) == [
        f"{path}:2: targets[0].name: name is 'bad name': a target needs a name of letters, digits, '.', '_' or '-'",
        f"{path}:4: targets[0].labels: 'name' is the target's name (--only name=… selects it); use another label",
        f"{path}:4: targets[0].labels.ok: label 'ok' must be text or a whole number (quote it)",
    ]


def test_a_target_never_shows_its_password() -> None:
    target = Target("a", "postgresql://app:s3cr%40t@db/a?sslmode=require&password=other%20one")
    assert "s3cr" not in repr(target) and "other" not in repr(target)
    assert target.display_url == "postgresql://app:***@db/a?sslmode=require&password=***"
    message = f"could not reach {target.url}: s3cr@t was refused; other one; other%20one; s3cr%40t"
    scrubbed = target.scrub(message)
    assert "s3cr" not in scrubbed and "other" not in scrubbed
    assert scrubbed.startswith("could not reach postgresql://app:***@db/a")


@pytest.mark.parametrize(
    ("url", "server"),
    [
        ("postgresql://app@db1/a", "db1:5432"),
        ("postgresql://app:pw@db1:6432/a", "db1:6432"),
        ("postgresql://postgres@/a?host=/var/run/postgresql&port=5433", "/var/run/postgresql:5433"),
        ("postgres:///a", "localhost:5432"),
        ("postgresql://[::1]:5433/a", "[::1]:5433"),
    ],
)
def test_targets_on_one_server_share_its_connections(url: str, server: str) -> None:
    assert server_of(url) == server


# --- --only ---------------------------------------------------------------------------------------------------


def test_only_keeps_targets_matching_every_key_and_any_value_of_a_key(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    env = {"TENANT_B_URL": "postgresql://db1/b"}

    def names(*only: str) -> list[str]:
        return [t.name for t in select_targets(path, only=only, environ=env).targets]

    assert names() == ["tenant-a", "tenant-b", "tenant-c"]
    assert names("region=eu") == ["tenant-a", "tenant-c"]
    assert names("region=eu", "region=us") == ["tenant-a", "tenant-b", "tenant-c"]
    assert names("region=eu", "tier=canary") == ["tenant-a"]
    assert names("name=tenant-b") == ["tenant-b"]


def test_only_matching_nothing_is_an_error_listing_the_labels(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    with pytest.raises(UsageError, match=r"--only region=asia matches none of the 3 targets .*region=eu, region=us"):
        select_targets(path, only=["region=asia"], environ={"TENANT_B_URL": "postgresql://db1/b"})
    with pytest.raises(UsageError, match="KEY=VALUE"):
        select_targets(path, only=["region"], environ={"TENANT_B_URL": "postgresql://db1/b"})


# --- --shard --------------------------------------------------------------------------------------------------


def test_shards_are_numbered_from_one_and_dealt_in_file_order() -> None:
    items = ["a", "b", "c", "d", "e"]
    assert [Shard(i, 2).take(items) for i in (1, 2)] == [("a", "c", "e"), ("b", "d")]
    assert [Shard(i, 3).take(items) for i in (1, 2, 3)] == [("a", "d"), ("b", "e"), ("c",)]
    assert Shard(7, 7).take(items) == ()


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "a/b", "2", "-1/3"])
def test_bad_shards_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        Shard.parse(text)


@given(
    names=st.lists(st.text("abcdefghij", min_size=1, max_size=6), unique=True, max_size=60),
    count=st.integers(min_value=1, max_value=12),
)
def test_shards_are_disjoint_balanced_and_cover_the_selection(names: list[str], count: int) -> None:
    shards = [Shard.parse(f"{index}/{count}").take(names) for index in range(1, count + 1)]
    dealt = [name for shard in shards for name in shard]
    assert sorted(dealt) == sorted(names)  # every target once: disjoint and covering
    assert max(map(len, shards)) - min(map(len, shards)) <= 1  # balanced
    for shard in shards:
        assert list(shard) == [n for n in names if n in shard]  # file order kept inside a shard
    assert shards == [Shard(index, count).take(list(names)) for index in range(1, count + 1)]  # deterministic


def test_shards_apply_to_the_selection_after_only(tmp_path: Path) -> None:
    lines = ["targets:"]
    for number in range(10):
        region = "eu" if number % 2 else "us"
        lines += [f"  - name: t{number}", f"    url: postgresql://db/t{number}", f"    labels: {{region: {region}}}"]
    path = write(tmp_path, "\n".join(lines) + "\n")
    parts = [select_targets(path, only=["region=eu"], shard=f"{i}/2") for i in (1, 2)]
    assert [[t.name for t in part.targets] for part in parts] == [["t1", "t5", "t9"], ["t3", "t7"]]
    assert parts[0].describe() == f"3 of 10 targets in {path}, --only region=eu, shard 1/2"


# --- connections ------------------------------------------------------------------------------------------------


def test_free_connections_leave_reserved_slots_and_respect_a_role_limit() -> None:
    assert ServerCapacity("s", max_connections=100, reserved=3, in_use=90, role_free=None).free == 7
    assert ServerCapacity("s", max_connections=100, reserved=3, in_use=10, role_free=2).free == 2
    assert ServerCapacity("s", max_connections=10, reserved=3, in_use=12, role_free=None).free == 0
