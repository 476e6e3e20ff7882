// vib3 query language. Compiled at build time by src/Vib3.Query; the parse tree is turned
// into immutable AST records by src/Vib3.Query/StatementParser.cs (no binding happens here).
grammar Vib3;

options { caseInsensitive = true; }

// Produced by hand in Vib3Lexer.DollarQuote.cs ($$...$$ and $tag$...$tag$ need a back-reference).
tokens { DOLLAR_STRING }

// Adjacent() (Vib3Parser.ModelName.cs): the next token starts right where the previous one ended.

// A script: statements separated by ';'. Empty statements (";;", trailing ';') are allowed.
script
    : statement? (SEMI statement?)* EOF
    ;

// Statement-level decisions are LL(1) on purpose: syntax errors then name exactly what was expected.
statement
    : SHOW showTarget                                           # show
    | DESCRIBE modelName                                        # describe
    | generateStatement                                         # generate
    | EXPLAIN ANALYZE? generateStatement                        # explain
    | CREATE createTarget                                       # create
    | DROP dropTarget                                           # drop
    | USE MODEL modelName                                       # useModel
    | SET identifier (EQ | TO) settingValue                     # set
    | RESET (ALL | identifier)                                  # reset
    | SELECT selectItem (COMMA selectItem)* (FROM table=identifier)? (WHERE where=expression)?
        (ORDER BY orderItem (COMMA orderItem)*)? (LIMIT limit=INTEGER)?   # select
    ;

// CREATE MODEL m FROM 'path' [WITH (...)] | CREATE INDEX ON MODEL m [WITH (keys = 'svd_gate', metric = 'ip')]
createTarget
    : MODEL modelName FROM stringLiteral (WITH LPAREN modelOption (COMMA modelOption)* RPAREN)?   # createModel
    | INDEX ON MODEL modelName (WITH LPAREN modelOption (COMMA modelOption)* RPAREN)?             # createIndex
    ;

dropTarget
    : MODEL (IF EXISTS)? modelName                              # dropModel
    | INDEX (IF EXISTS)? ON MODEL modelName                     # dropIndex
    ;

// MODELS, TIERS and EXPERTS are also identifiers; ANTLR resolves that in favour of the earlier alternative.
showTarget
    : MODELS                                                    # showModels
    | TIERS (BY LAYER)?                                         # showTiers
    | EXPERTS (FROM from=modelName)? (LAYER layer=INTEGER)?     # showExperts
    | ALL                                                       # showAll
    | identifier                                                # showVariable
    ;

// GENERATE 'prompt' ... or GENERATE CHAT ((role, content), ...) ...
generateStatement
    : GENERATE (prompt=text | CHAT LPAREN chatMessage (COMMA chatMessage)* RPAREN) generateOption*
    ;

chatMessage
    : LPAREN role=text COMMA content=text RPAREN
    ;

generateOption
    : FROM MODEL modelName                                                   # fromModelOption
    | USING (ROUTER | RETRIEVAL retrievalSetting*)                           # usingOption
    | MAX_TOKENS INTEGER                                                     # maxTokensOption
    | TEMPERATURE number                                                     # temperatureOption
    | TOP_P number                                                           # topPOption
    | TOP_K INTEGER                                                          # topKOption
    | MIN_P number                                                           # minPOption
    | REPEAT_PENALTY number                                                  # repeatPenaltyOption
    | IGNORE_EOS                                                             # ignoreEosOption
    | SEED INTEGER                                                           # seedOption
    | STOP text (COMMA text)*                                                # stopOption
    | STREAM                                                                 # streamOption
    ;

// USING RETRIEVAL's settings, each at most once, in any order: k, ef, experts, prior (key-only retrieval) or mass, budget
// (router-first), k also capping router-first's pages.
retrievalSetting
    : name=(K | EF | EXPERTS | PRIOR | MASS | BUDGET) EQ value=number
    ;

modelOption
    : identifier EQ (stringLiteral | number)
    ;

settingValue
    : stringLiteral
    | MINUS? number
    | TRUE
    | FALSE
    | identifier
    ;

selectItem
    : STAR                                  # selectStar
    | expression (AS alias=identifier)?     # selectExpression
    ;

orderItem
    : expression (ASC | DESC)?
    ;

// Earlier alternatives bind tighter: comparison > LIKE > IS > NOT > AND > OR.
expression
    : primary                                                       # primaryExpression
    | left=expression op=(EQ | NEQ | LT | LTE | GT | GTE) right=expression  # comparison
    | left=expression NOT? LIKE right=expression                    # like
    | expression IS NOT? NULL                                       # isNull
    | NOT expression                                                # not
    | left=expression AND right=expression                          # and
    | left=expression OR right=expression                           # or
    ;

primary
    : stringLiteral                                         # stringPrimary
    | MINUS? number                                         # numberPrimary
    | TRUE                                                  # truePrimary
    | FALSE                                                 # falsePrimary
    | NULL                                                  # nullPrimary
    | PARAMETER                                             # parameterPrimary
    | identifier (call=LPAREN (expression (COMMA expression)*)? RPAREN)?   # columnOrCall
    | LPAREN expression RPAREN                              # parenthesized
    ;

// A prompt, stop sequence or chat part: a string, a dollar-quoted string or a $n parameter.
text
    : stringLiteral
    | PARAMETER
    ;

stringLiteral
    : STRING
    | DOLLAR_STRING
    ;

number
    : INTEGER
    | DECIMAL
    ;

// A model's name as `vib3 models` prints it, unquoted: a run of tokens with nothing between them (mixtral-8x7b,
// qwen1.5-moe, vib3-moe: letters, digits, '.', '_' and '-'; a name holding "--" or a space needs double quotes), or
// any identifier, quoted or not. The predicate ends the run at the first gap, so `FROM MODEL m MAX_TOKENS 8` stops at m.
modelName
    : namePiece ({Adjacent()}? (namePiece | MINUS | DOT))*
    ;

namePiece
    : identifier
    | INTEGER
    | DECIMAL
    ;

// Words that are keywords only in context stay usable as names.
identifier
    : IDENTIFIER
    | QUOTED_IDENTIFIER
    | MODELS | TIERS | ROUTER | RETRIEVAL | K | EF | MAX_TOKENS | TEMPERATURE | TOP_P | TOP_K
    | MIN_P | SEED | STOP | STREAM | CHAT | MODEL | EXPERTS | LAYER | ANALYZE | EXISTS | INDEX | ON | PRIOR
    | REPEAT_PENALTY | IGNORE_EOS | MASS | BUDGET
    ;

// ---- lexer ----
SHOW        : 'SHOW';
MODELS      : 'MODELS';
TIERS       : 'TIERS';
EXPERTS     : 'EXPERTS';
LAYER       : 'LAYER';
ALL         : 'ALL';
DESCRIBE    : 'DESCRIBE';
GENERATE    : 'GENERATE';
CHAT        : 'CHAT';
EXPLAIN     : 'EXPLAIN';
ANALYZE     : 'ANALYZE';
CREATE      : 'CREATE';
DROP        : 'DROP';
USE         : 'USE';
MODEL       : 'MODEL';
INDEX       : 'INDEX';
ON          : 'ON';
IF          : 'IF';
EXISTS      : 'EXISTS';
WITH        : 'WITH';
SET         : 'SET';
TO          : 'TO';
RESET       : 'RESET';
USING       : 'USING';
ROUTER      : 'ROUTER';
RETRIEVAL   : 'RETRIEVAL';
K           : 'K';
EF          : 'EF';
PRIOR       : 'PRIOR';
MASS        : 'MASS';
BUDGET      : 'BUDGET';
MAX_TOKENS  : 'MAX_TOKENS';
TEMPERATURE : 'TEMPERATURE';
TOP_P       : 'TOP_P';
TOP_K       : 'TOP_K';
MIN_P       : 'MIN_P';
REPEAT_PENALTY : 'REPEAT_PENALTY';
IGNORE_EOS  : 'IGNORE_EOS';
SEED        : 'SEED';
STOP        : 'STOP';
STREAM      : 'STREAM';
SELECT      : 'SELECT';
FROM        : 'FROM';
WHERE       : 'WHERE';
ORDER       : 'ORDER';
BY          : 'BY';
ASC         : 'ASC';
DESC        : 'DESC';
LIMIT       : 'LIMIT';
AS          : 'AS';
AND         : 'AND';
OR          : 'OR';
NOT         : 'NOT';
LIKE        : 'LIKE';
IS          : 'IS';
NULL        : 'NULL';
TRUE        : 'TRUE';
FALSE       : 'FALSE';

SEMI   : ';';
COMMA  : ',';
LPAREN : '(';
RPAREN : ')';
STAR   : '*';
MINUS  : '-';
DOT    : '.';
EQ     : '=';
NEQ    : '<>' | '!=';
LTE    : '<=';
GTE    : '>=';
LT     : '<';
GT     : '>';

DECIMAL : [0-9]+ '.' [0-9]* | '.' [0-9]+;
INTEGER : [0-9]+;

// $1, $2, ...: a positional parameter.
PARAMETER : '$' [0-9]+;

// 'it''s' : a doubled quote inside a literal stands for one quote.
STRING : '\'' ( ~'\'' | '\'\'' )* '\'';

IDENTIFIER : [A-Z_] [A-Z_0-9]*;

// "My Model" : a doubled double quote stands for one.
QUOTED_IDENTIFIER : '"' ( ~'"' | '""' )+ '"';

LINE_COMMENT  : '--' ~[\r\n]* -> channel(HIDDEN);
BLOCK_COMMENT : '/*' .*? '*/' -> channel(HIDDEN);
WS            : [ \t\r\n\f]+ -> channel(HIDDEN);
