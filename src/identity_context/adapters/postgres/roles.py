"""The runtime role check: the service refuses a database role that could switch RLS off."""

from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

__all__ = ["runtime_role_problems"]

# Who owns the service's objects: tables, sequences and functions of the public
# schema, the schema itself and the database. A role that is (or can become,
# by membership) one of them can ALTER a table ... DISABLE ROW LEVEL SECURITY.
_CHECK = """
SELECT current_user, r.rolsuper, r.rolbypassrls, r.rolcreaterole,
       ARRAY(
           SELECT DISTINCT o.rolname
           FROM (
               SELECT c.relowner AS owner FROM pg_class c
               WHERE c.relnamespace = 'public'::regnamespace
               UNION SELECT p.proowner FROM pg_proc p
               WHERE p.pronamespace = 'public'::regnamespace
               UNION SELECT n.nspowner FROM pg_namespace n WHERE n.nspname = 'public'
               UNION SELECT d.datdba FROM pg_database d WHERE d.datname = current_database()
           ) owners
           JOIN pg_roles o ON o.oid = owners.owner
           WHERE pg_has_role(current_user, owners.owner, 'MEMBER')
           ORDER BY o.rolname
       )
FROM pg_roles r WHERE r.rolname = current_user
"""


async def runtime_role_problems(pool: AsyncConnectionPool) -> tuple[str, list[str]]:
    """Return the runtime role's name and every reason it could bypass row-level security.

    An empty list means the role is fit: not superuser, not BYPASSRLS, no
    CREATEROLE (which could grant itself the owner role) and neither owner of
    nor member of the owner of any of the service's objects.
    """
    async with pool.connection() as conn:
        row = await (await conn.execute(_CHECK)).fetchone()
        await conn.commit()
    if row is None:
        return "?", ["its attributes cannot be read"]
    user, superuser, bypass, createrole, owners = row
    problems = []
    if superuser:
        problems.append("it is SUPERUSER")
    if bypass:
        problems.append("it has BYPASSRLS")
    if createrole:
        problems.append("it has CREATEROLE (it could grant itself the owner role)")
    if owners:
        problems.append(
            f"it is or can act as {', '.join(owners)} (MEMBER), owner of the service's objects"
        )
    return str(user), problems
