"""Which CPUs each local worker uses: disjoint sets while the host has enough of them."""

from collections import Counter
from collections.abc import Iterable, Sequence


def place(host: Sequence[int], wanted: int | None, taken: Iterable[Sequence[int]]) -> list[int]:
    """The ``wanted`` least used CPUs of ``host`` (lowest ids first); all of them for None.

    ``taken`` are the sets other local workers hold: a new worker shares a CPU only when
    every CPU is already used at least as often.
    """
    if wanted is None or wanted >= len(host):
        return sorted(host)
    load = Counter(cpu for held in taken for cpu in held)
    by_load = sorted(host, key=lambda cpu: (load[cpu], cpu))
    return sorted(by_load[:wanted])


def refusal(host: Sequence[int], cpus: int | None, cpu_ids: Sequence[int] | None) -> str | None:
    """Why a local worker cannot have these CPUs on this host, or None when it can."""
    count = len(host)
    noun = "CPU" if count == 1 else "CPUs"
    if cpus is not None and cpus > count:
        return f"cpus: this host has {count} {noun} ({_spell(host)}), not {cpus}"
    unknown = sorted(set(cpu_ids or ()) - set(host))
    if unknown:
        return f"cpu_ids: this host has {count} {noun} ({_spell(host)}): no CPU {_spell(unknown)}"
    return None


def _spell(ids: Sequence[int]) -> str:
    """CPU ids as a short list: 0,1,3."""
    return ",".join(str(i) for i in ids)
