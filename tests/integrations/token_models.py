"""The token-classification side of the dense-task integration tests: a
tiny BERT built from a config (nothing downloaded), a word-piece vocabulary
written here, and sentences whose tags follow from their words, tokenized
and labelled as the Hugging Face token-classification recipe does (the
first piece of each word carries its tag; special tokens and continuation
pieces get -100) and batched by ``DataCollatorForTokenClassification``
(which pads the labels with -100)."""
from __future__ import annotations

import os
from typing import Dict, List

import torch
from torch.utils.data import Dataset
from transformers import BertConfig, BertForTokenClassification, BertTokenizerFast

TAGS: List[str] = ["O", "PER", "LOC", "ORG"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS_PER_TAG = 6
SUFFIX = "s"  # "t1w2s" is the pieces "t1w2", "##s"
IGNORED = -100  # the label of special tokens, continuation pieces and padding; the hooks' default ignore_index


def word(tag: int, k: int) -> str:
    return f"t{tag}w{k}"


def tokenizer(folder: str) -> BertTokenizerFast:
    """A BERT word-piece tokenizer over :func:`word` and ``##s`` (vocabulary file in ``folder``)."""
    words = [word(tag, k) for tag in range(len(TAGS)) for k in range(WORDS_PER_TAG)]
    path = os.path.join(folder, "vocab.txt")
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n".join(SPECIAL + words + ["##" + SUFFIX]) + "\n")
    return BertTokenizerFast(path)  # positional: transformers 4 names it vocab_file, 5 vocab (word_ids() needs a fast tokenizer)


def tiny_bert(vocab_size: int) -> BertForTokenClassification:
    """A one-layer BERT token classifier, tags named in its config."""
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=len(TAGS),
                        id2label=dict(enumerate(TAGS)), label2id={tag: i for i, tag in enumerate(TAGS)})
    return BertForTokenClassification(config)


class TaggedSentences(Dataset):
    """``size`` sentences of 3..12 words, a third of them with the ``##s``
    piece; a word's tag is the tag it was drawn for, except that 15% of the
    tags are redrawn (so the matrix is not diagonal)."""

    def __init__(self, tok: BertTokenizerFast, size: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.rows: List[Dict[str, List[int]]] = []
        for _ in range(size):
            length = int(torch.randint(3, 13, (1,), generator=g))
            drawn = torch.randint(0, len(TAGS), (length,), generator=g)
            pieces = torch.randint(0, WORDS_PER_TAG, (length,), generator=g)
            plural = torch.rand(length, generator=g) < 0.3
            noisy = torch.rand(length, generator=g) < 0.15
            tags = torch.where(noisy, torch.randint(0, len(TAGS), (length,), generator=g), drawn).tolist()
            words = [word(int(t), int(k)) + (SUFFIX if s else "") for t, k, s in zip(drawn, pieces, plural)]
            encoded = tok(words, is_split_into_words=True)
            ids = encoded.word_ids()
            labels = [IGNORED if w is None or (i > 0 and ids[i - 1] == w) else tags[w] for i, w in enumerate(ids)]
            self.rows.append({"input_ids": encoded["input_ids"], "labels": labels})

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Dict[str, List[int]]:
        return self.rows[index]
