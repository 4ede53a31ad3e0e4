"""place() and refusal(): which CPUs a local worker gets, and which configs a host refuses."""

from corral.domain.cpu_sets import place, refusal


def test_workers_get_disjoint_sets_while_the_host_has_enough() -> None:
    assert place([0, 1], 1, []) == [0]
    assert place([0, 1], 1, [[0]]) == [1]
    assert place([0, 1, 2, 3], 2, [[0], [1]]) == [2, 3]


def test_a_worker_shares_the_least_used_cpus_once_every_cpu_is_used() -> None:
    assert place([0, 1], 1, [[0], [1]]) == [0]
    assert place([0, 1, 2], 2, [[0, 1], [1, 2], [0]]) == [0, 2]


def test_no_count_or_a_count_of_the_whole_host_takes_every_cpu() -> None:
    assert place([0, 2, 5], None, [[0]]) == [0, 2, 5]
    assert place([0, 2], 4, []) == [0, 2]


def test_refusal_says_how_many_cpus_the_host_has() -> None:
    assert refusal([0, 1], 2, None) is None
    assert refusal([0, 1], 3, None) == "cpus: this host has 2 CPUs (0,1), not 3"
    assert refusal([4], 2, None) == "cpus: this host has 1 CPU (4), not 2"
    assert refusal([0, 1], None, [1, 7, 9]) == "cpu_ids: this host has 2 CPUs (0,1): no CPU 7,9"
    assert refusal([0, 1], None, [1]) is None
