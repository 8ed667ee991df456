"""Question in, cited answer out: the answer path below every interface.

- ``models`` loads the base model (a converted GGUF or a model directory);
  ``adapters`` serves named LoRA adapters over one base.
- ``generation`` / ``text_stream`` generate and stream text; ``rewrite`` turns a
  conversation into a standalone search query.
- ``citations`` verifies and attaches citations; ``abstain`` decides when to decline.
- ``evidence`` (with ``segment`` and ``evidence_scoring``) splits retrieved passages into
  evidence units and selects the few that answer; ``extract`` answers with a unit itself
  when it holds the kind of thing asked for (not yet wired into ``answer``).
- ``answer`` composes them: ``RagAnswerer`` and ``ClosedBookAnswerer`` implement
  ``Answerer.answer(question) -> Answer``.

The interfaces (``assistant.cli``, ``assistant.server``, ``assistant.integrations``) and
``eval`` import this package; it imports none of them.
"""

__all__ = ["abstain", "adapters", "answer", "build", "citations", "evidence", "evidence_scoring",
           "extract", "generation", "models", "records", "rewrite", "segment", "stopwords",
           "text_stream"]
