"""The append-only ledger: the one way money moves on an account.

Every entry carries an idempotency key (unique in the database): posting the same key
twice returns the first entry and moves no money, so a retried webhook, a re-run bill
or a re-processed meter-day is harmless. Writers lock the account row first (SELECT ...
FOR UPDATE, accounts in id order) and update the cached balance in the same
transaction, so the cache equals the sum of entries at every commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from meterhub.billing.models import Account, LedgerEntry

CENT = Decimal("0.01")  # the ledger's resolution (no currency in use has a finer minor unit)


def cents(value) -> Decimal:
    """A database sum of money as exact cents (SQLite sums decimals as floating point)."""
    return Decimal(value or 0).quantize(CENT)


@dataclass(frozen=True)
class Posted:
    entry: LedgerEntry
    created: bool  # False: the key was posted before, nothing moved
    balance_before: Decimal
    balance: Decimal


def lock_accounts(ids: Iterable[int]) -> dict[int, Account]:
    """Lock accounts for a ledger write, in id order (two writers never deadlock)."""
    return {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")}


def lock_balances(ids: Iterable[int]) -> dict[int, Decimal]:
    """Lock accounts (as lock_accounts) and return their balances only."""
    return dict(Account.objects.select_for_update().filter(pk__in=sorted(set(ids))).order_by("pk")
                .values_list("pk", "balance"))


@transaction.atomic
def post(account: Account | int, kind: str, amount: Decimal, *, key: str, source: str, at: datetime | None = None,
         reference: str = "", memo: str = "") -> Posted:
    """Append one entry (amount: + the customer's money, - a charge) unless `key` was posted."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount != amount.quantize(CENT):
        raise TypeError(f"ledger amounts are Decimal money rounded to the minor unit, not {amount!r}")
    account_id = account.pk if isinstance(account, Account) else account
    locked = lock_accounts([account_id])[account_id]
    existing = LedgerEntry.objects.filter(key=key).first()
    if existing is not None:
        if existing.account_id != account_id or existing.amount != amount:
            raise IntegrityError(f"idempotency key {key} was used for a different posting")
        return Posted(existing, False, locked.balance, locked.balance)
    entry = LedgerEntry.objects.create(account_id=account_id, kind=kind, amount=amount, key=key, source=source,
                                       at=at or timezone.now(), reference=reference, memo=memo)
    before = locked.balance
    locked.balance = before + amount
    Account.objects.filter(pk=account_id).update(balance=locked.balance)
    if isinstance(account, Account):
        account.balance = locked.balance
    return Posted(entry, True, before, locked.balance)


def refresh_balances(account_ids: Iterable[int]) -> None:
    """Set the cached balance of (already locked) accounts to the sum of their entries."""
    ids = sorted(set(account_ids))
    sums = (LedgerEntry.objects.filter(account=OuterRef("pk")).order_by().values("account")
            .annotate(s=Sum("amount")).values("s"))
    for i in range(0, len(ids), 5000):
        Account.objects.filter(pk__in=ids[i:i + 5000]).update(
            balance=Coalesce(Subquery(sums), Value(Decimal(0)), output_field=DecimalField()))


def balance_of(account: Account | int, at: datetime | None = None) -> Decimal:
    """The sum of entries (up to `at`, exclusive): the truth the cache must equal."""
    entries = LedgerEntry.objects.filter(account=account)
    if at is not None:
        entries = entries.filter(at__lt=at)
    return cents(entries.aggregate(s=Sum("amount"))["s"])


def mismatched_balances() -> list[tuple[str, Decimal, Decimal]]:
    """Accounts whose cached balance differs from the sum of their entries (should be none)."""
    sums = (LedgerEntry.objects.filter(account=OuterRef("pk")).order_by().values("account")
            .annotate(s=Sum("amount")).values("s"))
    rows = Account.objects.annotate(total=Coalesce(Subquery(sums), Value(Decimal(0)), output_field=DecimalField()))
    return [(a.number, a.balance, cents(a.total)) for a in rows if a.balance != cents(a.total)]
