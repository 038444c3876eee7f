"""The SQL database chain: question -> SQL written by the model -> read-only run -> answer.

The model sees the tables' schemas (with a few example rows) and writes one
SELECT; the SQL is shown (output `sql` and a trace step) before it runs on a
read-only connection with row and time caps (nodes/support/sql_database.py). When the
database refuses the query, the model gets the error and may correct it
`fix_attempts` times. Then the model answers from the rows, or the rows are
returned as they are (`answer_from_rows` off).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from pydantic import Field

from engine.errors import PermanentError
from engine.node import NodeSpec, node
from engine.ports import Port, PortType
from nodes.support.model_port import MODEL_PORT, ask, fill_fields, model_for, needs_real_model
from nodes.support.providers.config import ModelConfig
from nodes.support.sql_database import DatabaseConfig, QueryResult, ReadOnlyDatabase, open_database
from nodes.support.values import as_text

if TYPE_CHECKING:
    from engine.context import RunContext
    from nodes.support.providers.base import ChatModel

SQL_PROMPT = ("Write one {dialect} SELECT query that answers the question, using only these tables:\n\n"
              "{schema}\n\nReturn at most {max_rows} rows unless the question needs more. Answer with the SQL "
              "query only.\n\nQuestion: {question}\nSQL:")
FIX_PROMPT = ("{previous}\n\nThis query failed: {error}\nWrite a corrected query. Answer with the SQL query only.\n"
              "SQL:")
ANSWER_PROMPT = ("Question: {question}\nSQL query: {sql}\nSQL result:\n{result}\n\nAnswer the question from the "
                 "result in one or two sentences.")
_FENCE = re.compile(r"```(?:sql)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


class SqlChainConfig(DatabaseConfig, ModelConfig):
    temperature: float = Field(0.0, ge=0, le=2, description="Randomness: 0 writes the most predictable SQL.")
    sample_rows: int = Field(2, ge=0, le=10, description="Example rows per table shown to the model.")
    fix_attempts: int = Field(1, ge=0, le=5, description="How often a refused or failing query may be corrected.")
    answer_from_rows: bool = Field(True, description="Ask the model to answer from the rows; off: the answer "
                                   "is the result table itself.")


def extract_sql(reply: str) -> str:
    """The SQL in a model's reply: a code block, or the text after 'SQLQuery:', cut before any result."""
    fenced = _FENCE.search(reply)
    text = fenced.group(1) if fenced else reply
    text = re.sub(r"^\s*(?:sql\s*query|sql)\s*:\s*", "", text.strip(), flags=re.IGNORECASE)
    return re.split(r"\n\s*(?:sql\s*result|answer)\s*:", text, maxsplit=1, flags=re.IGNORECASE)[0].strip()


def _schema(db: ReadOnlyDatabase, sample_rows: int) -> str:
    return "\n\n".join(db.schema(t, sample_rows) for t in db.tables())


async def write_and_run(db: ReadOnlyDatabase, model: ChatModel, config: SqlChainConfig, question: str,
                        ctx: RunContext) -> tuple[str, QueryResult]:
    """The model's query and its rows, correcting it after an error up to fix_attempts times."""
    schema = await asyncio.to_thread(_schema, db, config.sample_rows)
    prompt = fill_fields(SQL_PROMPT, dialect=db.engine.dialect.name, schema=schema, max_rows=config.max_rows,
                  question=question)
    for attempt in range(config.fix_attempts + 1):
        sql = extract_sql((await ask(model, config, prompt, ctx)).text)
        ctx.step("sql", attempt=attempt + 1, query=sql)
        try:
            return sql, await asyncio.to_thread(db.query, sql)
        except PermanentError as err:
            ctx.step("sql_error", error=err.message)
            if attempt == config.fix_attempts:
                raise PermanentError(f"the query written for the question failed: {err.message}",
                                     hint=f"the query was: {sql[:300]}") from err
            prompt = fill_fields(FIX_PROMPT, previous=f"{prompt} {sql}", error=err.message)
    raise AssertionError("unreachable")


@node("chain.sql", title="SQL database chain", config=SqlChainConfig, cacheable=False,
      advice=needs_real_model("it writes SQL from the question and answers from the rows"),
      inputs=[Port("question", PortType.TEXT, "The question about the data."), MODEL_PORT],
      outputs=[Port("answer", PortType.TEXT, "The answer."), Port("sql", PortType.TEXT, "The SQL that ran."),
               Port("rows", PortType.JSON, "The rows it returned.")],
      description="Turns a question into one read-only SELECT (shown), runs it with row and time caps, and "
                  "answers from the rows.")
async def sql_chain(config: SqlChainConfig, inputs: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    question = as_text(inputs["question"]).strip()
    db = open_database(config, ctx)
    model = model_for(config, inputs, ctx)
    try:
        sql, result = await write_and_run(db, model, config, question, ctx)
    finally:
        db.close()
    ctx.step("rows", count=len(result.rows), truncated=result.truncated)
    if config.answer_from_rows:
        answer = (await ask(model, config, fill_fields(ANSWER_PROMPT, question=question, sql=sql,
                                                 result=result.as_table()), ctx, stream=True)).text.strip()
    else:
        answer = result.as_table()
        ctx.token(answer)
    return {"answer": answer, "sql": sql, "rows": result.as_dicts()}


SPECS: tuple[NodeSpec, ...] = (sql_chain,)
