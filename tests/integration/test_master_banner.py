"""The master says where it listens, and separately which URL local clients use."""

from master_process import MasterFactory


def test_bound_to_every_interface_it_says_so(start_master: MasterFactory) -> None:
    master = start_master(host="0.0.0.0")
    lines = master.log().splitlines()
    assert f"corral master listening on 0.0.0.0:{master.port} (all interfaces)" in lines
    assert any(line.startswith(f"local clients: {master.url} ") for line in lines), lines
    token_file = master.data_dir.resolve() / "admin.token"
    assert f"the CLI and the Python client use the admin token in {token_file}" in lines
    log = f"master listening on 0.0.0.0:{master.port}; local clients use {master.url}"
    assert any(line.endswith(log) for line in lines), lines


def test_bound_to_loopback_it_names_that_address(start_master: MasterFactory) -> None:
    master = start_master()
    lines = master.log().splitlines()
    assert f"corral master listening on 127.0.0.1:{master.port}" in lines
