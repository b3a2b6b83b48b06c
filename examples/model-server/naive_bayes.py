# SPDX-License-Identifier: GPL-2.0-or-later
"""A multinomial naive Bayes text classifier, standard library only.

The model is small enough to train at start-up from the CSV shipped next to
this file, so the example server needs no weights, no pip and no network:
exactly what a sandboxed model server should be able to do with nothing but
a read-only /usr and its own files.

Scoring follows the textbook multinomial model (Manning, Raghavan and
Schuetze, "Introduction to Information Retrieval", ch. 13):

    log P(c | d) = log P(c) + sum over tokens t of d of log P(t | c) + const
    P(t | c)     = (count(t, c) + alpha) / (tokens(c) + alpha * |V|)

Tokens never seen in training are skipped, as they carry no evidence.
"""

import csv
import hashlib
import math
import re

# Words that flip the meaning of what follows them up to the next
# punctuation mark. Tokens in that span are prefixed with "not_", so
# "not good" and "good" become different features (Das and Chen, 2001;
# Pang, Lee and Vaithyanathan, 2002). Without it, naive Bayes, which sees a
# bag of words, would score "not good" as positive.
NEGATIONS = frozenset(
    ["not", "no", "never", "nothing", "nobody", "none", "neither", "nor",
     "nowhere", "cannot", "without"]
)
# Function words carry no sentiment but are the most frequent tokens; on a
# training set this small their chance skew between classes would outweigh
# the words that matter. Negations are handled above and never dropped.
STOPWORDS = frozenset(
    """a an the and or but of to in on at for with from by as about into over
    after before than then so too very just it its it's this that these those
    is are was were be been being am do does did have has had will would can
    could i i'm me my we us our you your he him his she her they them their
    there here what which who when where how all any some one""".split()
)
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.,!?;:]")
_PUNCTUATION = frozenset(".,!?;:")


def tokenize(text):
    """Returns the features of text: lower-case content words, negated spans
    marked: "The app is not fast!" -> ["app", "not", "not_fast"]."""
    tokens = []
    negated = False
    # Typographic apostrophes ("didn\u2019t") count as ASCII ones.
    for tok in _TOKEN_RE.findall(text.lower().replace("\u2019", "'")):
        if tok in _PUNCTUATION:
            negated = False
            continue
        if tok in NEGATIONS or tok.endswith("n't"):
            # The negation word itself is kept: "never" is evidence too.
            tokens.append(tok)
            negated = True
            continue
        if tok not in STOPWORDS:
            tokens.append("not_" + tok if negated else tok)
    return tokens


def load_examples(path, max_examples=100000):
    """Reads (label, text) pairs from a CSV file with a label,text header.

    The cap keeps a wrong --data argument from eating the sandbox's memory.
    """
    examples = []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"label", "text"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: expected a 'label,text' header")
        for row in reader:
            label = (row["label"] or "").strip()
            text = (row["text"] or "").strip()
            if not label or not text:
                raise ValueError(f"{path}:{reader.line_num}: empty label or text")
            examples.append((label, text))
            if len(examples) > max_examples:
                raise ValueError(f"{path}: more than {max_examples} examples")
    if not examples:
        raise ValueError(f"{path}: no examples")
    return examples


class NaiveBayes:
    """Multinomial naive Bayes over the features that tokenize() returns."""

    def __init__(self, alpha=1.0):
        if alpha <= 0:
            raise ValueError("alpha must be positive (Laplace/Lidstone smoothing)")
        self.alpha = alpha
        self.classes = []
        self.vocabulary = set()
        self.examples_per_class = {}
        self.log_prior = {}
        self.log_likelihood = {}  # class -> {token: log P(token | class)}
        self.log_unseen = {}  # class -> log P(token | class) for count 0

    def fit(self, examples):
        """Trains on (label, text) pairs, replacing any earlier training."""
        counts = {}  # class -> {token: count}
        self.examples_per_class = {}
        self.vocabulary = set()
        for label, text in examples:
            self.examples_per_class[label] = self.examples_per_class.get(label, 0) + 1
            per_class = counts.setdefault(label, {})
            for tok in tokenize(text):
                per_class[tok] = per_class.get(tok, 0) + 1
                self.vocabulary.add(tok)

        self.classes = sorted(self.examples_per_class)
        total = sum(self.examples_per_class.values())
        v = len(self.vocabulary)
        for c in self.classes:
            self.log_prior[c] = math.log(self.examples_per_class[c] / total)
            denom = sum(counts[c].values()) + self.alpha * v
            self.log_likelihood[c] = {
                tok: math.log((n + self.alpha) / denom) for tok, n in counts[c].items()
            }
            self.log_unseen[c] = math.log(self.alpha / denom)
        return self

    def predict(self, text):
        """Returns (label, {class: probability}) for text.

        Probabilities come from the log scores through a softmax that
        subtracts the maximum first, so long texts cannot underflow to 0/0.
        """
        if not self.classes:
            raise RuntimeError("model is not trained")
        tokens = [t for t in tokenize(text) if t in self.vocabulary]
        log_scores = {}
        for c in self.classes:
            ll, unseen = self.log_likelihood[c], self.log_unseen[c]
            log_scores[c] = self.log_prior[c] + sum(ll.get(t, unseen) for t in tokens)
        top = max(log_scores.values())
        exp = {c: math.exp(s - top) for c, s in log_scores.items()}
        z = sum(exp.values())
        probs = {c: e / z for c, e in exp.items()}
        # Ties (e.g. no known word at all) go to the first class in sorted
        # order, so the answer is deterministic.
        label = max(self.classes, key=lambda c: (probs[c], -self.classes.index(c)))
        return label, probs


def dataset_digest(examples):
    """A short content hash, so an answer names the exact training data."""
    h = hashlib.sha256()
    for label, text in examples:
        h.update(label.encode() + b"\t" + text.encode() + b"\n")
    return h.hexdigest()[:12]
