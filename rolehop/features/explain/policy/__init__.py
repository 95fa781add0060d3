"""A small IAM policy evaluator for ``rolehop explain``: one document, one request, and why.

``document.evaluate`` says whether one policy document allows, explicitly denies or does not
match a request, statement by statement and element by element, so that ``explain`` can tell
which side blocks an AssumeRole: the role's trust policy or the caller's identity policies.

Pure: no I/O, no AWS, standard library only. Out of its scope: SCPs, permission boundaries,
session policies, and the request context itself, which the caller builds (a key missing
from ``Request.context`` is a key absent from the request).

What it cannot judge (an unknown operator or element, a malformed value) is never taken for
a match nor for a non-match: the condition's verdict is ``None``, the statement "cannot be
evaluated", and a decision that depends on that statement is ``cannot-evaluate``. A
statement that fails on some other element still plainly does not apply.

Read top-down, each module imports only those below it:

- ``document``: a whole document read, checked and combined into a ``Decision``
- ``statements``: one statement, its shape checked and every part judged
- ``principals``, ``elements`` (Action, Resource), ``conditions``: the parts of a statement
- ``operators``: the comparison behind each condition operator's name
- ``strings``: policy strings, their variables and wildcards, and ARN matching
- ``results``, ``request``, ``tristate``: what is answered, what is asked, and the logic

Importers import from the submodules; this package exports nothing.

The rules follow the IAM User Guide; the page for each rule is named where it is applied:

- operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
- several keys or values: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
- variables: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
- principals: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
- NotPrincipal: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
- Resource: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
- evaluation: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
- ForAnyValue with IfExists: https://repost.aws/questions/QU9HFmDzP0QGuU-fd7rS6B7w
"""
