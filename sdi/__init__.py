"""sdi: open spatial data infrastructure for Polish municipalities.

The data flows one way: read -> repair -> harmonise -> load -> publish.
Each stage is one module; `sdi.pipeline` chains them.
"""

__version__ = "0.1.0"
