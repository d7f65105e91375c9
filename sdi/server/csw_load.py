"""Replace pycsw's records (csw.records) with the ISO 19139 files of a folder, in one transaction.

Run by sdi.server.csw as a script of pycsw's own venv (.venv-csw), never imported by sdi: pycsw parses
each record into its queryable columns exactly as its own `pycsw-admin.py -c load_records` would, and the
old rows are deleted in the same transaction, so that a client sees the old catalogue or the new one.
Reads SDI_CSW_DATABASE (the owner's SQLAlchemy URL, from the environment only) and SDI_CSW_RECORDS.
"""

import os
import sys
from pathlib import Path

from lxml import etree
from pycsw.core import metadata, repository, util
from pycsw.core.config import StaticContext


def main() -> int:
    """Parse every record, then swap the table's rows; exit 1 with one line on any problem."""
    context = StaticContext()
    repo = repository.Repository(os.environ["SDI_CSW_DATABASE"], context, table="csw.records")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    parsed = []
    for path in sorted(Path(os.environ["SDI_CSW_RECORDS"]).glob("*.xml")):
        if path.name in ("atom.xml", "opensearch.xml"):
            continue
        for record in metadata.parse_record(context, etree.parse(str(path), parser), repo):
            record.insert_date = util.get_today_and_now()
            if isinstance(record.xml, bytes):
                record.xml = record.xml.decode("utf-8")
            parsed.append(record)
    session = repo.session
    session.begin()
    try:
        session.query(repo.dataset).delete(synchronize_session=False)
        for record in parsed:
            session.add(record)
        session.commit()
    except Exception:
        session.rollback()
        raise
    print(f"{len(parsed)} records loaded")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # noqa: BLE001 -- the parent reads one line
        print(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        sys.exit(1)
