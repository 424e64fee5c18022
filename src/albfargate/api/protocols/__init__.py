"""Wire protocols: one module per AWS protocol (JSON 1.1, query/XML). Pure: bytes in, bytes out."""
