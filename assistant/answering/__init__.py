"""Question in, cited answer out: the answer path below every interface.

- ``models`` loads the base model (a converted GGUF or a model directory);
  ``adapters`` serves named LoRA adapters over one base.
- ``generation`` / ``text_stream`` generate and stream text; ``rewrite`` turns a
  conversation into a standalone search query.
- ``citations`` verifies and attaches citations; ``abstain`` decides when to decline.
- ``answer`` composes them: ``RagAnswerer`` and ``ClosedBookAnswerer`` implement
  ``Answerer.answer(question) -> Answer``.

The interfaces (``assistant.cli``, ``assistant.server``, ``assistant.integrations``) and
``eval`` import this package; it imports none of them.
"""

__all__ = ["abstain", "adapters", "answer", "build", "citations", "generation", "models",
           "records", "rewrite", "stopwords", "text_stream"]
